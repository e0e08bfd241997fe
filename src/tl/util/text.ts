/** Untrusted names (files, classes, columns, layers) in plain-text messages. */
import { hasControl, terminalJson } from '../../common/terminal';

/**
 * A name as plain text on one line: one with control characters (newlines, terminal escapes,
 * bidirectional overrides) is shown quoted and escaped, as a JSON string.
 */
export function printable(name: string): string {
  return hasControl(name) ? terminalJson(name) : name;
}

/** What kind of value `x` is, for "expected …, got …" messages: 'null', 'number', 'an array', 'a Tensor', 'an object'. */
export function describeValue(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x !== 'object') return typeof x;
  const ctor = (x as { constructor?: { name?: string } }).constructor?.name;
  return ctor && ctor !== 'Object' ? `a ${ctor}` : 'an object';
}

/** The message of a thrown value (an Error's message, anything else as a string). */
export function errMsg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The first non-blank line of a thrown value's message: native loaders' errors run to many lines. */
export function firstLine(e: unknown): string {
  const msg = errMsg(e);
  return msg.split('\n').find((l) => l.trim())?.trim() ?? msg;
}
