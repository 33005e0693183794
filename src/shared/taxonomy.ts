/**
 * Default RBC taxonomy. Colours come from Paul Tol's "muted" and "light" qualitative schemes and the Okabe-Ito
 * palette, chosen so that neighbouring classes stay distinguishable under the common colour-vision deficiencies.
 * Hotkeys avoid A, X, Z, Y and space, which the review queue and undo/redo use.
 */
export interface DefaultClass {
  name: string;
  color: string;
  hotkey: string;
  description: string;
  /** Counted among red cells in reports and parasitemia denominators. */
  isRbc: boolean;
  /** Counted as a parasitised red cell. */
  isInfected: boolean;
}

export const DEFAULT_CLASSES: readonly DefaultClass[] = [
  {
    name: 'normal',
    color: '#88CCEE',
    hotkey: '1',
    description: 'Discocyte with central pallor',
    isRbc: true,
    isInfected: false,
  },
  {
    name: 'echinocyte',
    color: '#CC6677',
    hotkey: '2',
    description: 'Burr cell: regular short spicules',
    isRbc: true,
    isInfected: false,
  },
  {
    name: 'acanthocyte',
    color: '#DDCC77',
    hotkey: '3',
    description: 'Irregular long spicules',
    isRbc: true,
    isInfected: false,
  },
  {
    name: 'spherocyte',
    color: '#117733',
    hotkey: '4',
    description: 'Small dense cell without pallor',
    isRbc: true,
    isInfected: false,
  },
  {
    name: 'stomatocyte',
    color: '#332288',
    hotkey: '5',
    description: 'Slit-like central pallor',
    isRbc: true,
    isInfected: false,
  },
  {
    name: 'target cell',
    color: '#AA4499',
    hotkey: '6',
    description: 'Codocyte: central dense spot in pallor',
    isRbc: true,
    isInfected: false,
  },
  {
    name: 'elliptocyte',
    color: '#44AA99',
    hotkey: '7',
    description: 'Elliptocyte / ovalocyte',
    isRbc: true,
    isInfected: false,
  },
  {
    name: 'teardrop',
    color: '#999933',
    hotkey: '8',
    description: 'Dacrocyte',
    isRbc: true,
    isInfected: false,
  },
  {
    name: 'schistocyte',
    color: '#882255',
    hotkey: '9',
    description: 'Fragmented red cell',
    isRbc: true,
    isInfected: false,
  },
  {
    name: 'sickle cell',
    color: '#661100',
    hotkey: '0',
    description: 'Drepanocyte',
    isRbc: true,
    isInfected: false,
  },
  {
    name: 'malaria ring',
    color: '#E69F00',
    hotkey: 'R',
    description: 'Early trophozoite (ring form)',
    isRbc: true,
    isInfected: true,
  },
  {
    name: 'trophozoite',
    color: '#D55E00',
    hotkey: 'T',
    description: 'Mature trophozoite',
    isRbc: true,
    isInfected: true,
  },
  {
    name: 'schizont',
    color: '#0072B2',
    hotkey: 'S',
    description: 'Schizont with merozoites',
    isRbc: true,
    isInfected: true,
  },
  {
    name: 'gametocyte',
    color: '#CC79A7',
    hotkey: 'G',
    description: 'Gametocyte',
    isRbc: true,
    isInfected: true,
  },
  {
    name: 'WBC',
    color: '#56B4E9',
    hotkey: 'W',
    description: 'White blood cell',
    isRbc: false,
    isInfected: false,
  },
  {
    name: 'platelet',
    color: '#009E73',
    hotkey: 'P',
    description: 'Platelet',
    isRbc: false,
    isInfected: false,
  },
  {
    name: 'artifact',
    color: '#BBBBBB',
    hotkey: 'Q',
    description: 'Debris, stain artifact, overlap',
    isRbc: false,
    isInfected: false,
  },
];

/** Extra colours for user-added classes, in the same colour-blind-safe spirit. */
export const EXTRA_CLASS_COLORS = [
  '#77AADD',
  '#EE8866',
  '#EEDD88',
  '#FFAABB',
  '#99DDFF',
  '#44BB99',
  '#AAAA00',
  '#DDDDDD',
];

/** Keys reserved by the labeling loop; a class can never take them. */
export const RESERVED_KEYS = ['A', 'X', 'Z', 'Y', ' '];
