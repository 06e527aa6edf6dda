export * from './api-keys.module';
export { ApiKeysService } from './api-keys.service';
export { generateApiKey, hashApiKey } from './api-key-secret';
