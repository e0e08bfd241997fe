/**
 * "Install GPU Backend": `npm install @tensorflow/tfjs-node-gpu` into the extension's global
 * storage, where the kernel looks for it. Fails with a clear message when npm or the network is
 * missing, or when the package's own install step cannot download libtensorflow.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';

export const GPU_PACKAGE = '@tensorflow/tfjs-node-gpu@4.22.0';

export interface InstallOptions {
  /** Folder that gets node_modules/@tensorflow/tfjs-node-gpu. */
  prefix: string;
  npm?: string;
  env?: NodeJS.ProcessEnv;
  onOutput?(line: string): void;
}

export interface InstallResult {
  ok: boolean;
  message: string;
}

export function explainInstallFailure(code: number | null, output: string): string {
  const host = /(?:ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET)[ \t]+([\w.-]+\.[a-z]{2,}(?::\d+)?)/i.exec(output)?.[1];
  const libtf = /libtensorflow|storage\.googleapis|tfjs_binding|node-pre-gyp/i.test(output);
  if (libtf && host) return `npm installed ${GPU_PACKAGE}, but its install step could not download libtensorflow 2.9.1 (${host} unreachable). Set TFJS_NODE_CDN_STORAGE to a mirror you can reach, or install on a machine with network access.`;
  if (host) return `No network: npm could not reach ${host.replace(/:\d+$/, '')}. Connect to the internet (or configure npm's proxy/registry) and try again.`;
  if (/EACCES|EPERM/.test(output)) return `npm could not write to the install folder (permission denied).`;
  if (libtf) return `The install step of ${GPU_PACKAGE} failed while setting up libtensorflow. Its output is in the Transfer Lab log.`;
  const tail = output.trim().split('\n').slice(-3).join(' / ');
  return `npm install failed (exit code ${code})${tail ? `: ${tail}` : ''}`;
}

export function installGpuBackend(opts: InstallOptions): Promise<InstallResult> {
  mkdirSync(opts.prefix, { recursive: true });
  const npm = opts.npm ?? (process.platform === 'win32' ? 'npm.cmd' : 'npm');
  const plain = ['install', '--prefix', opts.prefix, '--no-audit', '--no-fund', '--no-save', '--foreground-scripts', GPU_PACKAGE];
  // On Windows npm is a .cmd run through the shell, which joins arguments with spaces unquoted.
  const args = process.platform === 'win32' ? plain.map((a) => (/[\s"]/.test(a) ? `"${a.replace(/"/g, '""')}"` : a)) : plain;
  return new Promise((resolve) => {
    let output = '';
    let child;
    try {
      child = spawn(npm, args, {
        // npm 11 skips dependencies' install scripts unless allowed; this package's script fetches libtensorflow.
        env: { ...process.env, npm_config_dangerously_allow_all_scripts: 'true', ...opts.env },
        stdio: ['ignore', 'pipe', 'pipe'],
        shell: process.platform === 'win32',
      });
    } catch (e) {
      resolve({ ok: false, message: `npm could not be started: ${(e as Error).message}` });
      return;
    }
    const onData = (d: Buffer) => {
      const s = d.toString();
      output += s;
      for (const line of s.split('\n')) if (line.trim()) opts.onOutput?.(line);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e: NodeJS.ErrnoException) => {
      resolve({ ok: false, message: e.code === 'ENOENT' ? `npm was not found (looked for "${npm}" on PATH). Install Node.js with npm, or put npm on PATH, and try again.` : `npm could not be started: ${e.message}` });
    });
    child.on('close', (code) => {
      if (code === 0) resolve({ ok: true, message: `Installed ${GPU_PACKAGE} into ${opts.prefix}. Restart the kernel to use it.` });
      else resolve({ ok: false, message: explainInstallFailure(code, output) });
    });
  });
}
