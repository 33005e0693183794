import type { AuditFilter } from '../store/review-repo';
import type { ReportOptions } from '../report/report';

export const EXPORT_FORMATS = ['imagefolder', 'csv', 'coco', 'npy', 'geojson', 'report', 'audit'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  format: ExportFormat;
  /** Output folder; built beside itself and swapped in when complete. */
  out: string;
  /** Class names (case-insensitive) or ids; only cells currently labeled with one of them. */
  classes?: string[];
  /** Slide (image) ids or names. */
  slides?: string[];
  /** Only cells whose current label was confirmed in review. */
  reviewedOnly?: boolean;
  /** Also write unlabeled cells (coco: category "unlabeled"; imagefolder: folder "unlabeled"). */
  includeUnlabeled?: boolean;
  /** imagefolder: square crops of this side in px (cell centred, aspect kept); native bbox crops when absent. */
  size?: number;
  /** coco: copy the field images into images/ so the dataset folder is self-contained. */
  copyImages?: boolean;
  /** npy: model id or name; default the model with the most embedded cells. */
  model?: string;
  report?: ReportOptions;
  audit?: AuditFilter;
}

export interface ExportResult {
  format: ExportFormat;
  out: string;
  /** Files written, relative to `out`. */
  files: string[];
  cells: number;
  images: number;
  warnings: string[];
}

export interface ExportProgress {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, phase: string) => void;
}
