// API types of images shipped to the cluster from the CLI (docs/images.md): which nodes hold an
// image, and an upload of one that lands on a node, from where the others fetch it.

/** POST /v1/images/locate */
export interface ImageLocateRequest { refs: string[] }
export interface ImageLocateResponse {
  images: { ref: string; nodes: { id: string; hostname: string; imageId?: string }[] }[];
}

/** POST /v1/images/uploads: the node it lands on, and the chain IDs its engine holds (leave their layers out). */
export interface ImageUploadRequest { ref: string; node?: string }
export interface ImageUploadBegun { id: string; node: string; hostname: string; haveChains: string[] }

/** POST /v1/images/uploads/:id/chunks: the next bytes of the archive, base64 (at most UPLOAD_CHUNK_BYTES decoded). */
export interface ImageUploadChunk {
  data: string;
  /** With the first chunk: what the archive holds, for the node's log. */
  plan?: { layersSent: number; layersSkipped: number; layerBytesSent: number; layerBytesSkipped: number };
}
export interface ImageUploadChunkResponse { received: number }

/** POST /v1/images/uploads/:id/done: the node loaded it (or the error says why not). */
export interface ImageUploadDone { node: string; hostname: string; bytes: number; imageId?: string }

export const UPLOAD_CHUNK_BYTES = 4 << 20;
export const LOCATE_REFS_MAX = 64;
