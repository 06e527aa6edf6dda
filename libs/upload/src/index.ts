export * from './upload.module';
export { CreateUploadUrlDto, MIME_TYPE_PATTERN } from './create-upload-url.dto';
