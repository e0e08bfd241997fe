import type { DeviceReport } from '../common/shapes';

let report: DeviceReport | undefined;

/** Set by the kernel process once the backend is chosen. */
export function setDeviceReport(r: DeviceReport): void {
  report = r;
}

/** The backend that runs the cells, the device, and every backend that was skipped with the reason. */
export function device(): DeviceReport {
  if (!report) throw new Error('tl.device(): no backend has been chosen yet (the kernel sets it at start-up).');
  return report;
}
