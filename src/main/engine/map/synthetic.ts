import { seededGaussian, seededRandom } from './random';

/**
 * Clustered synthetic embeddings for map tests and benchmarks: each class is a curved low-dimensional sheet
 * (a few latent factors through tanh into `dims`) plus isotropic noise, the shape cell-class clusters take in
 * foundation-model embeddings, where uniform noise in all dims would make every neighbour search hopeless.
 */
export interface SyntheticEmbeddings {
  vectors: Float32Array;
  labels: Int32Array;
  n: number;
  dims: number;
}

export function clusteredEmbeddings(
  n: number,
  dims: number,
  classes: number,
  options: { seed?: number; latentDims?: number; noise?: number; spread?: number } = {},
): SyntheticEmbeddings {
  const gaussian = seededGaussian(seededRandom(options.seed ?? 1));
  const latent = options.latentDims ?? 6;
  const noise = options.noise ?? 0.15;
  const spread = options.spread ?? 0.35;
  const centres = new Float32Array(classes * dims).map(() => gaussian());
  const loadings = new Float32Array(classes * latent * dims).map(() => gaussian() * spread);
  const vectors = new Float32Array(n * dims);
  const labels = new Int32Array(n);
  const z = new Float64Array(latent);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    labels[i] = c;
    for (let l = 0; l < latent; l++) z[l] = Math.tanh(gaussian());
    for (let j = 0; j < dims; j++) {
      let value = centres[c * dims + j] + gaussian() * noise;
      for (let l = 0; l < latent; l++) value += z[l] * loadings[(c * latent + l) * dims + j];
      vectors[i * dims + j] = value;
    }
  }
  return { vectors, labels, n, dims };
}
