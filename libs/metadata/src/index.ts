export * from './metadata.module';
export { MetadataService } from './metadata.service';
export {
  isReservedMetadataKey,
  reservedNamespaceOf,
  checkUserMetadataMap,
  RESERVED_METADATA_PREFIXES,
  METADATA_KEY_PATTERN,
  MAX_METADATA_VALUE_BYTES,
  MAX_USER_METADATA_KEYS,
} from './metadata-rules';
