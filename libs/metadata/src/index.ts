export * from './metadata.module';
export { MetadataService, isReservedMetadataKey, RESERVED_METADATA_PREFIXES, METADATA_KEY_PATTERN, MAX_METADATA_VALUE_BYTES } from './metadata.service';
