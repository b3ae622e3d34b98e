import type { InboxItem } from './schemas.ts';

/** What the inbox tells once items are committed: realtime implements it (`inbox_item` to the recipient's sockets). */
export interface InboxEvents {
  inboxItems(companyId: number, items: ReadonlyArray<{ userId: number; item: InboxItem }>): Promise<void>;
}
