import { expect } from 'vitest';
import { TsswarmError } from '../../../common/errors.js';

/** The TsswarmError `fn` throws (failing the test when it throws none, or something else). */
export function thrown(fn: () => unknown): TsswarmError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TsswarmError);
    return err as TsswarmError;
  }
  throw new Error('expected an error');
}

/** The TsswarmError `promise` rejects with (failing the test when it resolves, or rejects with something else). */
export async function rejected(promise: Promise<unknown>): Promise<TsswarmError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(TsswarmError);
    return err as TsswarmError;
  }
  throw new Error('expected a rejection');
}
