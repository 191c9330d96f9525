// Upload routes read the request body as a stream straight into the blob store; this
// parser hands the untouched stream through for every content type (and none).
import type { FastifyInstance } from 'fastify';

export function acceptRawBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
}
