import type { DeviceReport } from '../common/shapes';

export function formatDevice(d: DeviceReport): string {
  const lines = [`Backend: ${d.backend} — ${d.device}`, `Requested: ${d.requested} (${d.requestedBy}); TF.js ${d.tfjsVersion ?? '?'}; Node ${d.node} ${d.platform}`];
  for (const s of d.skipped) lines.push(`  skipped ${s.backend}: ${s.reason}${s.error ? `\n    loader error: ${s.error.split('\n')[0]}` : ''}`);
  return lines.join('\n');
}
