export * from './upload.module';
export { CreateUploadUrlDto, MIME_TYPE_PATTERN } from './create-upload-url.dto';
export { TusService } from './tus/tus.service';
export { registerTusRoutes } from './tus/tus.routes';
