/**
 * Values typed on the command line, handed to the typed API client: the API
 * checks each and names what it accepts, so nothing here refuses a value.
 */

/** A number as a number; anything else as given, for the API to name in its refusal. */
export function numberArg(value: string): number {
  const n = Number(value);
  return Number.isFinite(n) && value.trim() !== '' ? n : (value as unknown as number);
}
