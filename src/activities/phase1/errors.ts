/** Bad source data: retrying cannot help, so the workflow fails at once with this message. */
export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}
