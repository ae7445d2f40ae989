import http from 'node:http';

/** One request with a hard time limit: a request that hangs fails the test instead of holding it. */
export function boundedRequest(url: string, method: string, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} hung for ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
