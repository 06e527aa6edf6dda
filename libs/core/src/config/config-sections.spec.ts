import { loadConfig } from './app-config';
import { CONFIG_SECTION_KEYS, configSection } from './config-sections';
import { EnvironmentVariables } from './environment-variables';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const DERIVED = [
  'jwtSecret',
  'jwtSecretIsDevelopmentFallback',
  'publicBaseUrl',
  'publicStorageUrl',
  'storageSigningSecret',
  'storageRegions',
  'cloudfrontPrivateKey',
  'tusStagingDir',
  'tusUploadExpirySeconds',
  'corsAllowedOrigins',
  'apiCorsOrigins',
  'trustedProxies',
  'transformPresets',
  'transformConcurrency',
];

/** Every field EnvironmentVariables declares, read from its source (optional fields have no runtime default). */
function declaredVariables(): string[] {
  const src = readFileSync(path.join(__dirname, 'environment-variables.ts'), 'utf8');
  return [...src.slice(src.indexOf('export class EnvironmentVariables')).matchAll(/^\s+([A-Z][A-Z0-9_]+)[?:! =]/gm)].map((m) => m[1]);
}

describe('configuration sections', () => {
  const all = Object.values(CONFIG_SECTION_KEYS).flat() as string[];

  it('give every variable and derived setting exactly one section', () => {
    const declared = declaredVariables();
    expect(declared.length).toBeGreaterThan(100);
    expect(Object.keys(new EnvironmentVariables()).every((k) => declared.includes(k))).toBe(true);
    expect([...all].sort()).toEqual([...declared, ...DERIVED].sort());
    expect(new Set(all).size).toBe(all.length);
  });

  it('carry the loaded values, and nothing else', () => {
    const config = loadConfig({ UPLOAD_URL_TTL_SECONDS: '120', STORAGE_BUCKET: 'media-x' });
    const upload = configSection(config, 'upload');
    expect(upload.UPLOAD_URL_TTL_SECONDS).toBe(120);
    expect(upload.tusUploadExpirySeconds).toBe(120);
    expect(Object.keys(upload).sort()).toEqual([...CONFIG_SECTION_KEYS.upload].sort());
    expect(configSection(config, 'storage').STORAGE_BUCKET).toBe('media-x');
    expect(Object.isFrozen(upload)).toBe(true);
  });
});
