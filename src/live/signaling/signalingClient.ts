import { ServerMessageSchema, type ClientMessage, type ServerMessage } from '../../core/signaling/messages.ts';

export type SignalingListener = (msg: ServerMessage) => void;

/** The tab's WebSocket to `/signal`. What the server sends is validated too. */
export class SignalingClient {
  private socket: WebSocket | null = null;
  private listeners: SignalingListener[] = [];
  private closedListeners: ((reason: string) => void)[] = [];
  rejected = 0;

  constructor(private readonly url: string) {}

  static urlFor(location: Location): string {
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/signal`;
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this.url);
      this.socket = socket;
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error(`cannot reach the signaling server at ${this.url}`));
      socket.onclose = (e) => this.closedListeners.forEach((l) => l(e.reason || `closed (${e.code})`));
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

  on(listener: SignalingListener): void {
    this.listeners.push(listener);
  }

  onClose(listener: (reason: string) => void): void {
    this.closedListeners.push(listener);
  }

  send(msg: ClientMessage): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(msg));
  }

  close(): void {
    this.socket?.close();
  }
}
