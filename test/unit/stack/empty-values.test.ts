// Values that interpolation leaves empty where Compose reads "not set" (found in the corpus of
// public Compose files, test/corpus/: Sentry's self-hosted stack).
import { describe, expect, it } from 'vitest';
import { parse } from './helpers.js';

describe('keys left empty by interpolation', () => {
  it('platform: ${DOCKER_PLATFORM:-} unset is no platform', () => {
    const r = parse('services:\n  web:\n    image: nginx\n    platform: ${DOCKER_PLATFORM:-}\n');
    expect(r.stack.services.web.platform).toBeUndefined();
    expect(parse('services:\n  web:\n    image: nginx\n    platform: ${P:-}\n', { env: { P: 'linux/arm64' } }).stack.services.web.platform).toBe('linux/arm64');
  });

  it('hostname: "${SENTRY_MAIL_HOST:-}" unset is no hostname', () => {
    const r = parse('services:\n  smtp:\n    image: exim\n    hostname: "${SENTRY_MAIL_HOST:-}"\n');
    expect(r.stack.services.smtp.hostname).toBeUndefined();
    expect(parse('services:\n  smtp:\n    image: exim\n    hostname: "${H:-}"\n', { env: { H: 'mail.example.com' } }).stack.services.smtp.hostname).toBe('mail.example.com');
  });
});
