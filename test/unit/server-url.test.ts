import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InsecureUrlError, checkServerUrl, isLoopbackHost } from '../../src/core/server-url.js';

describe('server URL policy', () => {
  it('allows https anywhere and plain http only on loopback', () => {
    expect(checkServerUrl('https://sync.example.com/')).toBe('https://sync.example.com');
    expect(checkServerUrl('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080');
    expect(checkServerUrl('http://localhost:8080/')).toBe('http://localhost:8080');
    expect(checkServerUrl('http://[::1]:8080')).toBe('http://[::1]:8080');
    expect(checkServerUrl('http://127.5.6.7')).toBe('http://127.5.6.7');
    for (const bad of ['http://192.168.1.10:8080', 'http://sync.example.com', 'http://10.0.0.1', 'http://128.0.0.1', 'http://127.0.0.1.evil.com']) {
      expect(() => checkServerUrl(bad)).toThrow(InsecureUrlError);
      expect(checkServerUrl(bad, { insecure: true })).toMatch(/^http:\/\//);
    }
  });

  it('refuses what is not a server URL', () => {
    for (const bad of ['sync.example.com', 'ftp://x', 'https://u:p@x.com', 'https://x.com/?a=1', 'file:///etc/passwd']) {
      expect(() => checkServerUrl(bad, { insecure: true })).toThrow(InsecureUrlError);
    }
  });

  it('never lets a non-loopback address through over http without --insecure', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        const loop = ip.startsWith('127.');
        expect(isLoopbackHost(ip)).toBe(loop);
        if (!loop) expect(() => checkServerUrl(`http://${ip}:8080`)).toThrow(InsecureUrlError);
      }),
    );
  });
});
