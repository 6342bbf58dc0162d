// Shared HTTP client for the grounddesk pages: bearer auth, JSON bodies, and errors parsed into ApiError.
//
// Every error the service returns has the body {"code": "<stable code>", "detail": "<sentence>"}; this module
// turns it (and FastAPI's own validation bodies, and network failures) into an ApiError whose `message` is a
// sentence fit to show to a person.

/** Error raised for any failed request. `status` is 0 when the server could not be reached. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 = network failure).
   * @param {string} code Stable machine code from the response body.
   * @param {string} detail Human-readable sentence.
   */
  constructor(status, code, detail) {
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.detail = detail;
  }

  /** True when retrying later may succeed (network failure, 408, 429, 5xx). */
  get retryable() {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

const FALLBACK_DETAIL = {
  400: 'The request was not accepted.',
  401: 'Please sign in again.',
  403: "You don't have permission to do that.",
  404: 'That item could not be found.',
  409: 'Someone else changed this just now. Refresh and try again.',
  413: 'That is too large to send.',
  422: 'Some of the information sent was not valid.',
  429: 'Too many requests. Please wait a moment and try again.',
};

/**
 * Build an ApiError from a failed Response.
 * @param {Response} response
 * @returns {Promise<ApiError>}
 */
export async function errorFromResponse(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const status = response.status;
  let code = `http_${status}`;
  let detail = FALLBACK_DETAIL[status] || (status >= 500 ? 'The service had a problem. Please try again.' : '');
  if (body && typeof body === 'object') {
    if (typeof body.code === 'string' && body.code) code = body.code;
    if (typeof body.detail === 'string' && body.detail) {
      detail = body.detail;
    } else if (Array.isArray(body.detail) && body.detail.length) {
      // FastAPI request validation: [{"loc": [...], "msg": "..."}].
      detail = body.detail
        .map((item) => {
          const where = Array.isArray(item.loc) ? item.loc.filter((p) => p !== 'body').join('.') : '';
          return where ? `${where}: ${item.msg}` : String(item.msg || '');
        })
        .join('; ');
      if (code === `http_${status}`) code = 'validation_error';
    }
  }
  return new ApiError(status, code, detail || `Request failed (${status}).`);
}

/**
 * Create a client bound to an API base URL.
 *
 * @param {object} options
 * @param {string} [options.baseUrl] API origin (and optional path prefix); '' = same origin as the page.
 * @param {() => (string|null)} [options.getToken] Returns the bearer token to send, if any.
 * @param {(err: ApiError) => void} [options.onUnauthorized] Called on every 401 before the error is thrown.
 * @returns {{request: Function, get: Function, post: Function, del: Function, url: Function}}
 */
export function createClient({ baseUrl = '', getToken = () => null, onUnauthorized = null } = {}) {
  const base = String(baseUrl || '').replace(/\/+$/, '');

  /** Absolute or same-origin URL for an API path with optional query parameters. */
  function url(path, query) {
    let full = base + path;
    if (query) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) {
        if (value === undefined || value === null || value === '' || value === false) continue;
        params.append(key, String(value));
      }
      const qs = params.toString();
      if (qs) full += (full.includes('?') ? '&' : '?') + qs;
    }
    return full;
  }

  /**
   * Send a request.
   * @param {string} method
   * @param {string} path API path starting with '/'.
   * @param {{json?: any, form?: FormData, query?: object, signal?: AbortSignal, keepalive?: boolean}} [opts]
   * @returns {Promise<any>} Parsed JSON, or null for 204 / empty bodies.
   */
  async function request(method, path, opts = {}) {
    const headers = { Accept: 'application/json' };
    const token = getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    let body;
    if (opts.form) {
      body = opts.form; // the browser sets the multipart boundary
    } else if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.json);
    }
    let response;
    try {
      response = await fetch(url(path, opts.query), {
        method,
        headers,
        body,
        signal: opts.signal,
        keepalive: Boolean(opts.keepalive),
        credentials: 'omit',
      });
    } catch (err) {
      if (err && err.name === 'AbortError') throw err;
      throw new ApiError(0, 'network_error', "Can't reach the server. Check your connection and try again.");
    }
    if (!response.ok) {
      const error = await errorFromResponse(response);
      if (response.status === 401 && onUnauthorized) onUnauthorized(error);
      throw error;
    }
    if (response.status === 204) return null;
    const text = await response.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiError(response.status, 'bad_response', 'The server sent an unexpected response.');
    }
  }

  return {
    url,
    request,
    get: (path, query, opts = {}) => request('GET', path, { ...opts, query }),
    post: (path, json, opts = {}) => request('POST', path, { ...opts, json }),
    del: (path, opts = {}) => request('DELETE', path, opts),
  };
}

/**
 * Turn any thrown value into a sentence for the user.
 * @param {unknown} err
 * @returns {string}
 */
export function errorMessage(err) {
  if (err instanceof ApiError) return err.detail;
  if (err && typeof err === 'object' && 'message' in err && err.message) return String(err.message);
  return 'Something went wrong. Please try again.';
}

/**
 * WebSocket URL for an API path: ws(s):// on the API origin (or the page origin when baseUrl is '').
 * @param {string} baseUrl
 * @param {string} path
 * @param {object} [query]
 * @returns {string}
 */
export function wsUrl(baseUrl, path, query) {
  const origin = baseUrl ? new URL(baseUrl, window.location.href) : new URL(window.location.href);
  const prefix = baseUrl ? origin.pathname.replace(/\/+$/, '') : '';
  const target = new URL(prefix + path, origin);
  target.protocol = origin.protocol === 'https:' ? 'wss:' : 'ws:';
  if (query) {
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== '') target.searchParams.set(key, String(value));
    }
  }
  return target.toString();
}

const STAFF_TOKEN_KEY = 'grounddesk.staff.token';
const STAFF_USER_KEY = 'grounddesk.staff.user';

function readStorage(key) {
  try {
    return window.sessionStorage.getItem(key);
  } catch {
    return null; // storage disabled (privacy mode, sandboxed iframe)
  }
}

function writeStorage(key, value) {
  try {
    if (value === null) window.sessionStorage.removeItem(key);
    else window.sessionStorage.setItem(key, value);
  } catch {
    /* storage disabled: the session lasts as long as the page */
  }
}

/** The staff session (token + user) kept in sessionStorage, shared by the console and knowledge pages. */
export const staffSession = {
  get token() {
    return readStorage(STAFF_TOKEN_KEY);
  },
  get user() {
    const raw = readStorage(STAFF_USER_KEY);
    if (!raw) return null;
    try {
      return JSON.parse(raw);
    } catch {
      return null;
    }
  },
  /** @param {string} token @param {object} user */
  save(token, user) {
    writeStorage(STAFF_TOKEN_KEY, token);
    writeStorage(STAFF_USER_KEY, JSON.stringify(user || null));
  },
  /** @param {object} user */
  saveUser(user) {
    writeStorage(STAFF_USER_KEY, JSON.stringify(user || null));
  },
  clear() {
    writeStorage(STAFF_TOKEN_KEY, null);
    writeStorage(STAFF_USER_KEY, null);
  },
};
