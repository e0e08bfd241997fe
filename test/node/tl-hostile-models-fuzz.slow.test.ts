/**
 * The loader fuzzer, full: 1,000 seeded mutations of a valid model.json and shard (layers and graph
 * models). Every mutation loads or fails with a clear error within 5 s, opens nothing outside its
 * folder, never loads the sentinel's bytes and leaves no tensors behind. Prints the figures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useCpu } from './tl-fixtures';
import { assertEveryMutationEndedWell, fuzz, formatReport } from './tl-hostile-fuzz';

const SEED = 20261129;

test('fuzz: 1,000 mutations of a model.json and its shard', async () => {
  await useCpu();
  const t0 = performance.now();
  const r = await fuzz(1000, SEED, 'fuzz-slow');
  console.log(formatReport(r, SEED));
  console.log(`fuzz wall time: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  assert.equal(r.mutations, 1000);
  assertEveryMutationEndedWell(r);
});
