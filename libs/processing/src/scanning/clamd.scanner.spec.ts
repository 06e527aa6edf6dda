import net from 'node:net';
import { ClamdScanner, parseInstreamReply } from './clamd.scanner';
import { ScanRefusedError, ScannerUnavailableError } from './malware-scanner';

describe('parseInstreamReply', () => {
  it('reads clean and infected verdicts', () => {
    expect(parseInstreamReply('stream: OK\0')).toEqual({ status: 'clean', engine: 'clamd' });
    expect(parseInstreamReply('stream: Eicar-Test-Signature.UNOFFICIAL FOUND\0')).toEqual({
      status: 'infected',
      engine: 'clamd',
      signature: 'Eicar-Test-Signature.UNOFFICIAL',
    });
  });
  it('refuses for good on the size limit, and calls other errors unavailability (retry)', () => {
    expect(() => parseInstreamReply('INSTREAM size limit exceeded. ERROR\0')).toThrow(ScanRefusedError);
    expect(() => parseInstreamReply("Can't allocate memory ERROR\0")).toThrow(ScannerUnavailableError);
  });
});

describe('ClamdScanner connection failures', () => {
  it('rejects with ScannerUnavailableError when nothing listens', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const scanner = new ClamdScanner({ host: '127.0.0.1', port, connectTimeoutMs: 500, timeoutMs: 1000 });
    await expect(scanner.open()).rejects.toThrow(ScannerUnavailableError);
  });

  it('bounds a scan that never gets an answer by the overall timeout', async () => {
    // A server that accepts and then says nothing (a hung clamd).
    const sockets: net.Socket[] = [];
    const srv = net.createServer((s) => sockets.push(s.on('data', () => undefined)));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as net.AddressInfo).port;
    try {
      const scanner = new ClamdScanner({ host: '127.0.0.1', port, connectTimeoutMs: 500, timeoutMs: 300 });
      const session = await scanner.open();
      await session.write(Buffer.from('some bytes'));
      const started = Date.now();
      await expect(session.finish()).rejects.toThrow(/did not finish within 300 ms/);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});
