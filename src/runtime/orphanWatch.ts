/**
 * The kernel ends with the process that started it. A kernel whose parent went away (the CLI
 * killed by `timeout -s KILL`, a crashed extension host) learns it from its IPC channel only when
 * its event loop is free; one stuck in a cell's `while (true) {}` never would. A worker thread,
 * which runs whatever the main thread does, notices the new parent and ends the process.
 */
import { Worker } from 'node:worker_threads';

const WATCHER = `
const { workerData } = require('node:worker_threads');
setInterval(() => {
  if (process.ppid !== workerData.ppid) process.kill(workerData.pid, 'SIGKILL');
}, workerData.everyMs);
`;

export function endWithParent(everyMs = 1000): void {
  try {
    const worker = new Worker(WATCHER, { eval: true, workerData: { ppid: process.ppid, pid: process.pid, everyMs } });
    worker.unref();
  } catch {
    // Without worker threads the IPC 'disconnect' still ends an idle kernel.
  }
}
