// client.js - a third-party gRPC client (@grpc/grpc-js + @grpc/proto-loader)
// calling a cairn server with cairn's own protocol/cairn.proto over mutual
// TLS, as any other implementation would.
//
// usage: node client.js PROTO TARGET CERTDIR MODE
//   MODE checkpoint   GetCheckpoint must succeed; prints the note
//   MODE denied       SubmitQuery must fail with PERMISSION_DENIED
//   MODE nocert       GetCheckpoint without a client certificate must fail
//   MODE submit       SubmitQuery must succeed (analyst certificate)
//   MODE nodeadline   GetCheckpoint without a deadline must be INVALID_ARGUMENT
'use strict';
const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [protoPath, target, certDir, mode] = process.argv.slice(2);
const def = loader.loadSync(protoPath, { keepCase: false, longs: String,
  defaults: true });
const Coordinator = grpc.loadPackageDefinition(def).cairn.v1.Coordinator;
const rd = (f) => fs.readFileSync(path.join(certDir, f));
const creds = mode === 'nocert'
  ? grpc.credentials.createSsl(rd('ca.crt'))
  : grpc.credentials.createSsl(rd('ca.crt'), rd('tls.key'), rd('tls.crt'));
const client = new Coordinator(target, creds);
const deadline = () => new Date(Date.now() + 5000);

function done(ok, msg) {
  console.log(msg);
  client.close();
  process.exit(ok ? 0 : 1);
}

if (mode === 'checkpoint' || mode === 'nocert') {
  client.getCheckpoint({}, { deadline: deadline() }, (err, cp) => {
    if (mode === 'nocert') {
      if (err) done(true, `refused: ${grpc.status[err.code]}`);
      else done(false, 'accepted a client without a certificate');
    } else if (err) {
      done(false, `error: ${grpc.status[err.code]}: ${err.details}`);
    } else {
      done(true, cp.note);
    }
  });
} else if (mode === 'nodeadline') {
  client.getCheckpoint({}, (err) => {
    if (err && err.code === grpc.status.INVALID_ARGUMENT) {
      done(true, `refused: ${err.details}`);
    } else {
      done(false, `expected INVALID_ARGUMENT, got ${err ? grpc.status[err.code] : 'OK'}`);
    }
  });
} else if (mode === 'submit') {
  client.submitQuery({ query: Buffer.from('query'), signature: Buffer.alloc(64) },
    { deadline: deadline() }, (err, r) => {
      if (err) done(false, `error: ${grpc.status[err.code]}: ${err.details}`);
      else done(r.logIndex === '5', `submitted as ${r.queryId}, index ${r.logIndex}`);
    });
} else if (mode === 'denied') {
  client.submitQuery({ query: Buffer.from('q'), signature: Buffer.alloc(64) },
    { deadline: deadline() }, (err) => {
      if (err && err.code === grpc.status.PERMISSION_DENIED) {
        done(true, `denied: ${err.details}`);
      } else {
        done(false, `expected PERMISSION_DENIED, got ${err ? grpc.status[err.code] : 'OK'}`);
      }
    });
} else {
  done(false, `unknown mode ${mode}`);
}
