/** Untrusted names (files, classes, columns, layers) in plain-text messages. */

/** A name as plain text on one line: one with control characters (newlines, terminal escapes) is shown quoted and escaped. */
export function printable(name: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f-\u009f]/.test(name) ? JSON.stringify(name) : name;
}

/** What kind of value `x` is, for "expected …, got …" messages: 'null', 'number', 'an array', 'a Tensor', 'an object'. */
export function describeValue(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x !== 'object') return typeof x;
  const ctor = (x as { constructor?: { name?: string } }).constructor?.name;
  return ctor && ctor !== 'Object' ? `a ${ctor}` : 'an object';
}
