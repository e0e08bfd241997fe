/** Validates notebooks against Jupyter's own nbformat 4.5 schema (shared/spec, beside the repository). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv-draft-04';

const schemaPath = path.resolve(__dirname, '..', '..', '..', '..', 'shared', 'spec', 'nbformat.v4.5.schema.json');
let validateFn: ReturnType<Ajv['compile']> | undefined;

export function validateNotebook(nb: unknown): string[] {
  if (!validateFn) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    validateFn = ajv.compile(JSON.parse(readFileSync(schemaPath, 'utf8')));
  }
  return validateFn(nb) ? [] : (validateFn.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
