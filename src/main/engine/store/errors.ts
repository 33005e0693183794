export type StoreErrorCode =
  'not-found' | 'exists' | 'corrupt' | 'newer-schema' | 'locked' | 'invalid' | 'not-a-project';

/** An error the user can act on: `message` says what was wrong and what to do. */
export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
