// probe.js - a gRPC health probe written with grpc-js (the client most
// deployments' probes use), for tests/e2e/health_grpc.sh.
//
//   node probe.js check HOST:PORT SERVICE   prints the status or the error
//   node probe.js watch HOST:PORT SERVICE N prints each status, exits after N
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [mode, target, service, count] = process.argv.slice(2);
const def = loader.loadSync(path.join(process.env.CAIRN_TOP,
    'protocol/health.proto'), { enums: String, defaults: true });
const Health = grpc.loadPackageDefinition(def).grpc.health.v1.Health;
const client = new Health(target, grpc.credentials.createInsecure());

if (mode === 'check') {
	client.Check({ service }, { deadline: Date.now() + 10000 },
	    (err, resp) => {
		if (err)
			console.log('error ' + grpc.status[err.code]);
		else
			console.log(resp.status);
		client.close();
	});
} else if (mode === 'watch') {
	let n = 0;
	const call = client.Watch({ service });
	call.on('data', (resp) => {
		console.log(resp.status);
		if (++n >= Number(count)) {
			call.cancel();
			client.close();
			process.exit(0);
		}
	});
	call.on('error', (err) => {
		console.log('error ' + grpc.status[err.code]);
		process.exit(1);
	});
} else {
	console.error('usage: probe.js check|watch HOST:PORT SERVICE [N]');
	process.exit(2);
}
