/**
 * The loader fuzzer, short: 150 seeded mutations of a valid model.json and shard (the 1,000-mutation
 * run is tl-hostile-models-fuzz.slow.test.ts). Every mutation loads or fails with a clear error, in
 * under 5 s, opening nothing outside its folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useCpu } from './tl-fixtures';
import { assertEveryMutationEndedWell, fuzz, formatReport } from './tl-hostile-fuzz';

const SEED = 0x7a11ab;

test('fuzz: 150 mutations of a model.json and its shard', async () => {
  await useCpu();
  const r = await fuzz(150, SEED, 'fuzz-fast');
  console.log(formatReport(r, SEED));
  assert.equal(r.mutations, 150);
  assertEveryMutationEndedWell(r);
});
