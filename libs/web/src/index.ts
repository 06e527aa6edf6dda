export { WebModule } from './web.module';
export { uploadPageCsp, storageOrigins } from './upload-page.csp';
