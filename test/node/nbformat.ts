/** Validates notebooks against Jupyter's own nbformat 4.5 schema (shared/spec, beside the repository). */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv-draft-04';

/** shared/ sits beside the checkout: the first one found walking up (a worktree sits one level deeper). */
function findSchema(): string {
  const rel = path.join('shared', 'spec', 'nbformat.v4.5.schema.json');
  for (let dir = path.resolve(__dirname, '..', '..', '..', '..'); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, rel)) || dir === path.dirname(dir)) return path.join(dir, rel);
  }
}
const schemaPath = findSchema();
let validateFn: ReturnType<Ajv['compile']> | undefined;

/** A text value of a notebook: nbformat stores it as a string or as a list of lines. */
export const joinLines = (v: unknown): string => (Array.isArray(v) ? v.join('') : String(v ?? ''));

export function validateNotebook(nb: unknown): string[] {
  if (!validateFn) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    validateFn = ajv.compile(JSON.parse(readFileSync(schemaPath, 'utf8')));
  }
  return validateFn(nb) ? [] : (validateFn.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
