import { KICKED_CLOSE_CODE, ServerMessageSchema, type ClientMessage, type ServerMessage } from '../../core/signaling/messages.ts';

export type SignalingListener = (msg: ServerMessage) => void;

/** Waits before each reconnect attempt after a dropped connection: 0.5 s, 1 s, 2 s, then every 4 s. */
export const RECONNECT_DELAYS_MS = [500, 1000, 2000, 4000];

/**
 * The tab's WebSocket to `/signal`. What the server sends is validated too. After the first
 * connection, a connection that drops (not closed by `close()`) is re-opened with backoff, and
 * `onReopen` listeners run on each success, so the tab can rejoin its room.
 */
export class SignalingClient {
  private socket: WebSocket | null = null;
  private listeners: SignalingListener[] = [];
  private closedListeners: ((reason: string, code: number) => void)[] = [];
  private reopenListeners: (() => void)[] = [];
  private closedOnPurpose = false;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private everOpened = false;
  rejected = 0;
  /** Connections re-opened after a drop. */
  reconnects = 0;

  constructor(private readonly url: string) {}

  static urlFor(location: Location): string {
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/signal`;
  }

  /** The first connection; it rejects if the server cannot be reached (no retry: the tab says so). */
  connect(): Promise<void> {
    return this.open();
  }

  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this.url);
      this.socket = socket;
      let opened = false;
      socket.onopen = () => {
        opened = true;
        this.everOpened = true;
        this.attempt = 0;
        resolve();
      };
      socket.onerror = () => reject(new Error(`cannot reach the signaling server at ${this.url}`));
      socket.onclose = (e) => {
        if (this.socket !== socket) return;
        // Removed by the room's owner: coming back would undo the owner's decision.
        if (e.code === KICKED_CLOSE_CODE) this.closedOnPurpose = true;
        if (opened) this.closedListeners.forEach((l) => l(e.reason || `closed (${e.code})`, e.code));
        if (!this.closedOnPurpose && this.everOpened) this.scheduleReopen();
      };
      socket.onmessage = (e) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(String(e.data));
        } catch {
          this.rejected++;
          return;
        }
        const result = ServerMessageSchema.safeParse(parsed);
        if (!result.success) {
          this.rejected++;
          return;
        }
        for (const l of this.listeners) l(result.data);
      };
    });
  }

  private scheduleReopen(): void {
    if (this.retry || this.closedOnPurpose) return;
    const delay = RECONNECT_DELAYS_MS[Math.min(this.attempt, RECONNECT_DELAYS_MS.length - 1)];
    this.attempt++;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.open().then(
        () => {
          this.reconnects++;
          this.reopenListeners.forEach((l) => l());
        },
        () => {}, // onclose follows onerror and schedules the next attempt
      );
    }, delay);
  }

  on(listener: SignalingListener): void {
    this.listeners.push(listener);
  }

  /** Every loss of an open connection (a reconnect attempt follows unless `close()` was called). */
  onClose(listener: (reason: string, code: number) => void): void {
    this.closedListeners.push(listener);
  }

  /** Every connection re-opened after a drop. */
  onReopen(listener: () => void): void {
    this.reopenListeners.push(listener);
  }

  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  send(msg: ClientMessage): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(msg));
  }

  close(): void {
    this.closedOnPurpose = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.socket?.close();
  }
}
