/**
 * Which push services this server POSTs to (issue 17, web push). A browser's subscription names an endpoint and the
 * server later sends to it, so without a list any signed-in user could make the server send requests to an address
 * of their choice. An endpoint is accepted only on a listed push service: https, no user name or password, the
 * default port unless the entry names one, a host name (never an IP address) that is an entry or, for `*.domain`,
 * ends with `.domain`. Both the subscription route and the sender ask here; nothing else decides.
 *
 * The browsers' own push services (what `PushSubscription.endpoint` is in each):
 * - Chrome, Edge on Android, Opera, Samsung Internet, Brave: Firebase Cloud Messaging, `fcm.googleapis.com`
 *   (`/fcm/send/…`, `/wp/…`);
 * - Firefox: Mozilla's autopush, `updates.push.services.mozilla.com` (`/wpush/v2/…`);
 * - Safari (macOS 13+, iOS 16.4+ home-screen apps): Apple, `web.push.apple.com`;
 * - Edge on Windows: Windows Push Notification Services, `<region>.notify.windows.com` (`/w/?token=…`).
 */
import { isIP } from 'node:net';

export const DEFAULT_PUSH_SERVICE_HOSTS =
  'fcm.googleapis.com,updates.push.services.mozilla.com,*.push.services.mozilla.com,*.push.apple.com,*.notify.windows.com';

interface Entry {
  /** The host name, or for a wildcard the domain after `*.`. */
  host: string;
  wildcard: boolean;
  /** '' = the default port (443) only. */
  port: string;
}

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const ENTRY = new RegExp(`^(\\*\\.)?(${LABEL}(?:\\.${LABEL})*)(?::(\\d{1,5}))?$`);

export class PushServices {
  private constructor(private readonly entries: readonly Entry[]) {}

  /**
   * `host`, `*.domain`, either with `:port`, separated by commas. Throws with the entry that is not one (config
   * validation reports it at boot).
   */
  static parse(list: string): PushServices {
    const entries = list
      .split(',')
      .map((item) => item.trim().toLowerCase())
      .filter(Boolean)
      .map((item): Entry => {
        const match = ENTRY.exec(item);
        const port = match?.[3] ?? '';
        if (!match || isIP(match[2]!) || (port !== '' && (Number(port) < 1 || Number(port) > 65535))) {
          throw new Error(`"${item}" is not a push service host (host, *.domain, optionally :port; no IP addresses)`);
        }
        // Written as the URL parser writes an endpoint's port: '' for the default (443), else without leading zeros.
        return { host: match[2]!, wildcard: Boolean(match[1]), port: port === '' || Number(port) === 443 ? '' : String(Number(port)) };
      });
    return new PushServices(entries);
  }

  /** Why this endpoint is not one the server sends to, or null when it is. */
  refusal(endpoint: string): string | null {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      return 'not a URL';
    }
    if (url.protocol !== 'https:') return 'push services are reached over https';
    if (url.username || url.password) return 'an endpoint has no user name or password';
    // The WHATWG parser has already turned 0x7f.1, 2130706433 and the like into dotted IPv4; IPv6 is in brackets.
    const host = url.hostname;
    if (isIP(host) || host.startsWith('[')) return 'an endpoint is named by its push service, not an IP address';
    const listed = this.entries.some((entry) => entry.port === url.port && (entry.wildcard ? host.endsWith(`.${entry.host}`) : host === entry.host));
    return listed ? null : `${url.host} is not a push service this server sends to`;
  }
}
