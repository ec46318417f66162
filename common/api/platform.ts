// Platforms (`platform: linux/arm64`) and engine runtimes as the scheduler compares them with
// what a node reports. Engines report architectures as the kernel names them (x86_64,
// aarch64); images and Compose files use Go's names (amd64, arm64): both are normalised the
// way Docker does before they are compared.

const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
  armv6l: 'arm',
  armv7l: 'arm',
  armv8l: 'arm',
  i386: '386',
  i486: '386',
  i586: '386',
  i686: '386',
  x86: '386',
};

/** An architecture in Go's naming (amd64, arm64, arm, 386, ppc64le, s390x, riscv64, ...). */
export const normaliseArch = (arch: string): string => {
  const a = arch.toLowerCase();
  return ARCH_ALIASES[a] ?? a;
};

export interface Platform {
  os: string;
  /** absent: any architecture */
  arch?: string;
  variant?: string;
}

const PLATFORM_RE = /^[a-z0-9]+(?:\/[a-z0-9_-]+(?:\/[a-z0-9]+)?)?$/i;

/** "linux/arm64/v8" -> { os, arch, variant }; a string reason when it is not a platform. */
export function parsePlatform(s: string): Platform | string {
  if (!PLATFORM_RE.test(s)) return `invalid platform "${s.slice(0, 64)}": expected os[/arch[/variant]] such as linux/amd64 or linux/arm64`;
  const [os, arch, variant] = s.toLowerCase().split('/');
  return { os, ...(arch ? { arch: normaliseArch(arch) } : {}), ...(variant ? { variant } : {}) };
}

/** Does a node of `os`/`arch` (as its engine reports them) run images of platform `p`? The variant is not compared. */
export const platformMatches = (p: Platform, os: string, arch: string): boolean =>
  p.os === os.toLowerCase() && (p.arch === undefined || p.arch === normaliseArch(arch));

/** A runtime's name as an engine registers it (runc, runsc, nvidia, io.containerd.runc.v2). */
export const RUNTIME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The runtimes a node has; a node that did not report them (an older agent) has runc. */
export const nodeRuntimes = (reported: readonly string[] | undefined): readonly string[] => reported ?? ['runc'];
