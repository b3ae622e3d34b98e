import { ApiError, freshAccess, refresh } from './api.ts';

function sendOnce(path: string, form: FormData, token: string | undefined, onProgress: (sent: number) => void) {
  return new Promise<{ status: number; body: unknown }>((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', path);
    if (token !== undefined) request.setRequestHeader('authorization', `Bearer ${token}`);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () => {
      let body: unknown = request.responseText;
      try {
        body = request.responseText === '' ? null : JSON.parse(request.responseText);
      } catch {
        // not JSON: kept as text for the error message
      }
      resolve({ status: request.status, body });
    };
    request.onerror = () => reject(new Error('The upload failed: the server cannot be reached.'));
    request.onabort = () => reject(new Error('The upload was cancelled.'));
    request.send(form);
  });
}

/**
 * A multipart upload with its progress (0–1), which fetch cannot report: XMLHttpRequest's upload
 * events do. An expired access token is renewed once and the upload sent again, like `call`.
 */
export async function upload<T>(path: string, file: File, onProgress: (fraction: number) => void): Promise<T> {
  const form = new FormData();
  form.append('file', file, file.name);
  let answer = await sendOnce(path, form, await freshAccess(), onProgress);
  if (answer.status === 401) {
    const renewed = await refresh();
    if (renewed !== undefined) answer = await sendOnce(path, form, renewed, onProgress);
  }
  if (answer.status < 200 || answer.status >= 300) throw new ApiError(answer.status, answer.body);
  return answer.body as T;
}
