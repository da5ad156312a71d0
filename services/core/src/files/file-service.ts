// FileService's gRPC handlers, kept thin: who calls, then the feature.
import type { AuthContext } from '@im-mesh/platform';
import type { fileV1 } from '@im-mesh/contracts';
import type { ServiceImplementation } from 'nice-grpc';
import { verifiedUser } from '../caller.js';
import type { FileUploads } from './file-uploads.js';

export function fileService(uploads: FileUploads): ServiceImplementation<typeof fileV1.FileServiceDefinition, AuthContext> {
  return {
    createUpload: (request, context) => uploads.createUpload(verifiedUser(context), request),
    completeUpload: (request, context) => uploads.completeUpload(verifiedUser(context), request),
    getDownloadUrl: (request, context) => uploads.getDownloadUrl(verifiedUser(context), request),
  };
}
