/** Who a link is. Written when the link opens, removed when it closes. */
export interface Session {
  /** link id, unique across the cluster */
  sid: string;
  bizId: string;
  userId: string;
  deviceId?: string;
  name?: string;
  ip: string;
  /** id of the node holding the socket */
  node: string;
  /** epoch ms */
  connectedAt: number;
}

export interface SessionQuery {
  bizId?: string;
  userId?: string;
  /** case-insensitive substring of the display name */
  name?: string;
  /** opaque, from the previous page's `next` */
  cursor?: string;
  limit: number;
}

export interface SessionPage {
  items: Session[];
  /** cursor of the next page; absent on the last page */
  next?: string;
}
