// The browser upload page: ask the API for a signed URL, send the bytes straight to storage with upload
// progress, tell the API the upload is complete, then long-poll until the asset is ready and show its
// thumbnail and metadata. Files above the tus threshold use resumable tus uploads against /tus/.
// No build step: this file is served as it is.

const MIB = 1024 * 1024;
const params = new URLSearchParams(location.search);
/** Files larger than this (bytes) go through tus; `?tusThreshold=` overrides it (tests, tuning). */
const TUS_THRESHOLD = positiveInt(params.get('tusThreshold')) ?? 64 * MIB;
/** crypto.subtle hashes a whole ArrayBuffer in memory: only files up to this size get a SHA-256. */
const HASH_LIMIT = positiveInt(params.get('hashLimit')) ?? 64 * MIB;
const TUS_CHUNK_SIZE = 32 * MIB;
const PARALLEL_UPLOADS = 3;
/** `GET /media/{id}?waitFor=ready&timeout=20` rounds before giving up on a settled status. */
const MAX_WAIT_ROUNDS = 15;
const SETTLED = new Set(['ready', 'failed', 'quarantined', 'deleted']);
const TOKEN_KEY = 'media-upload-page.token';

function positiveInt(value) {
  if (value === null || !/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

const tokenInput = document.getElementById('token');
const bucketInput = document.getElementById('bucket');
const folderInput = document.getElementById('folder');
const fileInput = document.getElementById('files');
const dropZone = document.getElementById('drop-zone');
const list = document.getElementById('uploads');
const rowTemplate = document.getElementById('upload-row');

tokenInput.value = sessionStorage.getItem(TOKEN_KEY) ?? '';
tokenInput.addEventListener('input', () => sessionStorage.setItem(TOKEN_KEY, tokenInput.value.trim()));
tokenInput.addEventListener('change', () => void offerBuckets());
void offerBuckets();

/** Fills the bucket suggestions with the caller's buckets (quietly nothing without a valid token). */
async function offerBuckets() {
  const token = tokenInput.value.trim();
  if (!token) return;
  try {
    const { items } = await apiClient(token)('GET', 'buckets');
    const names = document.getElementById('bucket-names');
    names.replaceChildren(
      ...items.map((b) => {
        const o = document.createElement('option');
        o.value = b.name;
        return o;
      }),
    );
  } catch {
    /* no suggestions */
  }
}

/** Where a file goes: `{ bucket, path }` from the bucket and folder fields, or nothing (the default bucket, by id). */
function placement(file) {
  const bucket = bucketInput.value.trim();
  const folder = folderInput.value.trim().replace(/^\/+|\/+$/g, '');
  if (!bucket && !folder) return {};
  const name = file.name || 'file';
  return { ...(bucket ? { bucket } : {}), path: folder ? `${folder}/${name}` : name };
}
document.getElementById('token-form').addEventListener('submit', (e) => e.preventDefault());

fileInput.addEventListener('change', () => {
  enqueue([...fileInput.files]);
  fileInput.value = '';
});
for (const type of ['dragenter', 'dragover']) {
  dropZone.addEventListener(type, (e) => {
    e.preventDefault();
    dropZone.classList.add('dragging');
  });
}
dropZone.addEventListener('dragleave', () => dropZone.classList.remove('dragging'));
dropZone.addEventListener('drop', (e) => {
  e.preventDefault();
  dropZone.classList.remove('dragging');
  enqueue([...(e.dataTransfer?.files ?? [])]);
});
// A file dropped next to the zone must not make the browser navigate away from the page.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());

// ---- queue -------------------------------------------------------------------------------------------

const waiting = [];
let running = 0;

function enqueue(files) {
  for (const file of files) waiting.push({ file, row: new UploadRow(file) });
  pump();
}

function pump() {
  while (running < PARALLEL_UPLOADS && waiting.length) {
    const { file, row } = waiting.shift();
    running++;
    upload(file, row)
      .catch((e) => row.fail(e instanceof Error ? e.message : String(e)))
      .finally(() => {
        running--;
        pump();
      });
  }
}

// ---- one file ----------------------------------------------------------------------------------------

async function upload(file, row) {
  const token = tokenInput.value.trim();
  if (!token) throw new Error('Enter an access token first.');
  const api = apiClient(token);
  let assetId;
  if (file.size > TUS_THRESHOLD) {
    const checksumSha256 = await sha256Hex(file, row);
    row.setStatus('uploading', 'uploading (resumable)');
    assetId = await tusUpload(file, { token, checksumSha256, ...placement(file) }, (sent, total) => row.setProgress(sent, total));
    // The tus endpoint completes the upload itself (the same completion as POST /media/{id}/complete).
  } else {
    const checksumSha256 = await sha256Hex(file, row);
    row.setStatus('requesting');
    const grant = await api('POST', 'media/upload-url', {
      filename: file.name || 'file',
      mimeType: declaredType(file),
      sizeBytes: file.size,
      ...(checksumSha256 ? { checksumSha256 } : {}),
      ...placement(file),
    });
    assetId = grant.assetId;
    row.setAssetId(assetId);
    row.setStatus('uploading');
    await sendToStorage(grant, file, (sent, total) => row.setProgress(sent, total));
    row.setProgress(1, 1);
    row.setStatus('completing');
    const completed = await api('POST', `media/${assetId}/complete`);
    row.setStatus(completed.status);
  }
  row.setAssetId(assetId);
  row.setProgress(1, 1);
  const asset = await waitUntilSettled(api, assetId, row);
  row.showAsset(asset);
  if (asset.status === 'ready' && (asset.detectedMimeType ?? asset.mimeType).startsWith('image/')) {
    await showThumbnail(api, assetId, row);
    await row.offerRenditions((width, format) => api('GET', `media/${assetId}/render?width=${width}&format=${format}&redirect=false`));
  }
}

/** The declared type: the browser's guess from the file name; the service checks it against the bytes. */
function declaredType(file) {
  return file.type ? file.type.split(';')[0].trim().toLowerCase() : 'application/octet-stream';
}

async function sha256Hex(file, row) {
  // crypto.subtle exists only in secure contexts (https, localhost); without it the checksum is left out
  // and the service verifies what it received against nothing but itself.
  if (!globalThis.crypto?.subtle || file.size > HASH_LIMIT) return undefined;
  row.setStatus('hashing');
  const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function waitUntilSettled(api, assetId, row) {
  for (let round = 0; round < MAX_WAIT_ROUNDS; round++) {
    const asset = await api('GET', `media/${assetId}?waitFor=ready&timeout=20`);
    row.setStatus(asset.status);
    if (SETTLED.has(asset.status)) return asset;
  }
  throw new Error('The asset is still being processed; reload its status later.');
}

async function showThumbnail(api, assetId, row) {
  let link;
  try {
    // The route answers 302 to a signed URL; redirect=false gives that URL as JSON (an <img> cannot send the token).
    link = await api('GET', `media/${assetId}/thumbnail?redirect=false`);
  } catch (e) {
    row.note(`No thumbnail: ${e.message}`);
    return;
  }
  await row.showThumbnail(link.url);
}

// ---- HTTP --------------------------------------------------------------------------------------------

function apiClient(token) {
  return async function api(method, path, body) {
    let res;
    try {
      // Relative to the page, so that the service also works behind a path prefix (https://host/media-api/).
      res = await fetch(new URL(path, document.baseURI), {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch (e) {
      throw new Error(`Could not reach the service (${e.message}).`);
    }
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) throw new Error(problemMessage(res.status, json, text));
    return json;
  };
}

/** The `message` of the service's problem body, an S3 XML <Message>, or the status line. */
function problemMessage(status, json, text) {
  if (json && typeof json.message === 'string' && json.message) return json.message;
  const xml = typeof text === 'string' ? /<Message>([^<]*)<\/Message>/.exec(text) : null;
  if (xml) return `${xml[1]} (HTTP ${status})`;
  return `The request failed with HTTP ${status}.`;
}

/** PUT (or form POST) the file to the signed URL with exactly the given headers/fields, reporting progress. */
function sendToStorage(grant, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(grant.method, grant.uploadUrl);
    let body = file;
    if (grant.method === 'POST' && grant.fields) {
      body = new FormData();
      for (const [k, v] of Object.entries(grant.fields)) body.append(k, v);
      body.append('file', file);
    } else {
      // Exactly the granted headers: a grant lists only headers a script may set (the browser adds Content-Length).
      for (const [k, v] of Object.entries(grant.headers ?? {})) xhr.setRequestHeader(k, v);
    }
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else {
        let json;
        try {
          json = JSON.parse(xhr.responseText);
        } catch {
          json = undefined;
        }
        reject(new Error(`Storage refused the upload: ${problemMessage(xhr.status, json, xhr.responseText)}`));
      }
    });
    xhr.addEventListener('error', () =>
      reject(new Error("Could not send the file to storage (network error, or the bucket's CORS rule does not allow this page's origin).")),
    );
    xhr.addEventListener('abort', () => reject(new Error('The upload was aborted.')));
    xhr.send(body);
  });
}

// ---- tus (large files) -------------------------------------------------------------------------------

let tusLoading;
function loadTus() {
  tusLoading ??= new Promise((resolve, reject) => {
    if (globalThis.tus) return resolve(globalThis.tus);
    const script = document.createElement('script');
    script.src = new URL('assets/tus.min.js', document.baseURI).href;
    script.onload = () => (globalThis.tus ? resolve(globalThis.tus) : reject(new Error('tus-js-client did not load')));
    script.onerror = () => {
      tusLoading = undefined;
      reject(new Error('Could not load assets/tus.min.js'));
    };
    document.head.append(script);
  });
  return tusLoading;
}

/**
 * Uploads with tus 1.0 to /tus/ (the upload id in `Location: /tus/<id>` is the asset id); resumes an earlier,
 * unfinished upload of the same file (tus-js-client keeps its URL in localStorage, keyed by the file).
 */
async function tusUpload(file, { token, checksumSha256, bucket, path }, onProgress) {
  const tus = await loadTus();
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(file, {
      endpoint: new URL('tus/', document.baseURI).href,
      headers: { Authorization: `Bearer ${token}` },
      metadata: {
        filename: file.name || 'file',
        filetype: declaredType(file),
        ...(checksumSha256 ? { checksumSha256 } : {}),
        ...(bucket ? { bucket } : {}),
        ...(path ? { path } : {}),
      },
      chunkSize: TUS_CHUNK_SIZE,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onProgress,
      onError: (err) => reject(new Error(tusErrorMessage(err))),
      onSuccess: () => {
        const id = decodeURIComponent(new URL(upload.url).pathname.split('/').filter(Boolean).pop() ?? '');
        if (id) resolve(id);
        else reject(new Error('The tus server gave no upload URL.'));
      },
    });
    upload
      .findPreviousUploads()
      .then((previous) => {
        if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
        upload.start();
      })
      .catch((e) => reject(e));
  });
}

function tusErrorMessage(err) {
  const res = err?.originalResponse;
  if (res) {
    const text = res.getBody?.() ?? '';
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    // The tus endpoint answers errors with the message as plain text.
    if (!json && text && !text.trimStart().startsWith('<')) return text.trim();
    return problemMessage(res.getStatus(), json, text);
  }
  return err?.message ?? String(err);
}

// ---- the row -----------------------------------------------------------------------------------------

const STATUS_TEXT = {
  queued: 'queued',
  hashing: 'computing SHA-256',
  requesting: 'requesting upload URL',
  uploading: 'uploading',
  completing: 'completing',
  pending: 'pending',
  processing: 'processing',
  ready: 'ready',
  failed: 'failed',
  quarantined: 'quarantined',
  deleted: 'deleted',
  error: 'error',
};

class UploadRow {
  constructor(file) {
    this.el = rowTemplate.content.firstElementChild.cloneNode(true);
    this.$ = (sel) => this.el.querySelector(sel);
    this.name = file.name || 'file';
    this.$('.name').textContent = this.name;
    this.$('.size').textContent = formatBytes(file.size);
    this.progress = this.$('progress');
    this.progress.setAttribute('aria-label', `Upload progress of ${this.name}`);
    list.prepend(this.el);
  }

  setAssetId(id) {
    this.el.dataset.assetId = id;
  }

  setStatus(status, text) {
    this.el.dataset.status = status;
    this.$('.status').textContent = text ?? STATUS_TEXT[status] ?? status;
  }

  setProgress(sent, total) {
    const pct = total > 0 ? Math.min(100, Math.floor((sent / total) * 100)) : 100;
    this.progress.value = pct;
    this.$('.percent').textContent = `${pct} %`;
  }

  fail(message) {
    if (!SETTLED.has(this.el.dataset.status)) this.setStatus('error');
    const p = this.$('.error');
    p.textContent = message;
    p.hidden = false;
  }

  note(message) {
    const p = document.createElement('p');
    p.className = 'hint';
    p.textContent = message;
    this.$('.result').append(p);
    this.$('.result').hidden = false;
  }

  showAsset(asset) {
    this.setStatus(asset.status);
    if (asset.status === 'failed' || asset.status === 'quarantined') {
      this.fail(asset.failureReason || `The upload was ${asset.status}.`);
    }
    const m = asset.metadata ?? {};
    const rows = [
      ['Size', formatBytes(asset.sizeBytes)],
      ['Type', asset.detectedMimeType ?? asset.mimeType],
    ];
    if (m['media:width'] && m['media:height']) rows.push(['Dimensions', `${m['media:width']} × ${m['media:height']} px`]);
    if (m['media:duration_seconds']) rows.push(['Duration', `${m['media:duration_seconds']} s`]);
    for (const [k, v] of Object.entries(m)
      .filter(([k]) => k.startsWith('exif:'))
      .slice(0, 12))
      rows.push([k.slice(5), v]);
    if (asset.checksumSha256) rows.push(['SHA-256', asset.checksumSha256]);
    const dl = this.$('.metadata');
    dl.replaceChildren();
    for (const [k, v] of rows) {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      dl.append(dt, dd);
    }
    this.$('.result').hidden = false;
  }

  /**
   * The size picker of a ready image: each choice asks GET /media/{id}/render (the service renders it once and keeps
   * it) and shows the rendition with a link to it.
   */
  offerRenditions(renderLink) {
    const form = this.$('.render');
    const img = this.$('.rendition');
    const link = this.$('.render-link');
    const show = async () => {
      const width = this.$('.render-width').value;
      const format = this.$('.render-format').value;
      form.dataset.state = 'rendering';
      try {
        const { url } = await renderLink(width, format);
        await new Promise((resolve, reject) => {
          img.onload = resolve;
          img.onerror = () => reject(new Error('The rendition could not be loaded.'));
          img.alt = `${this.name} at ${width} px (${format})`;
          img.src = url;
        });
        img.hidden = false;
        link.href = url;
        link.hidden = false;
        form.dataset.state = 'shown';
      } catch (e) {
        form.dataset.state = 'failed';
        this.note(`No rendition: ${e.message}`);
      }
    };
    form.addEventListener('change', () => void show());
    form.addEventListener('submit', (e) => e.preventDefault());
    form.hidden = false;
    return show();
  }

  showThumbnail(url) {
    const img = this.$('.thumbnail');
    return new Promise((resolve) => {
      img.onload = () => {
        img.hidden = false;
        resolve();
      };
      img.onerror = () => {
        this.note('The thumbnail could not be loaded.');
        resolve();
      };
      img.alt = `Thumbnail of ${this.name}`;
      img.src = url;
    });
  }
}

function formatBytes(n) {
  if (n < 1024) return `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
