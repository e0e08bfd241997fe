/** Untrusted names (files, classes, columns, layers) in plain-text messages. */

/** A name as plain text on one line: one with control characters (newlines, terminal escapes) is shown quoted and escaped. */
export function printable(name: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f-\u009f]/.test(name) ? JSON.stringify(name) : name;
}
