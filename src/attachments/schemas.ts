import { type Static, Type } from '@sinclair/typebox';

export const Attachment = Type.Object(
  {
    id: Type.Integer(),
    task: Type.Integer(),
    filename: Type.String({ description: 'As uploaded, without any path or control characters; at most 255 bytes.' }),
    content_type: Type.String({ description: 'Detected from the bytes, not taken from the client.' }),
    size: Type.Integer({ description: 'In bytes.' }),
    sha256: Type.String({ description: 'Hex SHA-256 of the bytes; the download’s ETag.' }),
    uploaded_by: Type.Integer(),
    created_at: Type.String({ format: 'date-time' }),
    download_url: Type.String({
      description:
        'A path to the bytes, signed for 10 minutes: it works without the Authorization header (a plain link).',
    }),
  },
  { $id: 'Attachment', title: 'Attachment' },
);
export type Attachment = Static<typeof Attachment>;

export const DownloadQuery = Type.Object({
  c: Type.Optional(Type.String({ description: 'Of a signed link: the company.' })),
  e: Type.Optional(Type.String({ description: 'Of a signed link: when it expires (Unix seconds).' })),
  s: Type.Optional(Type.String({ description: 'Of a signed link: the signature.' })),
});
export type DownloadQuery = Static<typeof DownloadQuery>;
