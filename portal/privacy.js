// privacy.js - ρ (zCDP, exact nano-ρ integers) to the (ε, δ) the page
// shows: the tight conversion of docs/privacy.md (CKS20 §2.3), computed
// exactly as privacy/accountant.c's dp_eps_from_rho_tight does (a scan of
// ln(α − 1) over [−20, 40], then golden-section refinement), so the page
// and `cairn query result` print the same ε.  The simple bound
// ρ + 2√(ρ ln(1/δ)) is always larger (docs/portal.md).

function epsAt(u, rho, delta) {
	const am1 = Math.exp(u), a = 1 + am1;

	return a * rho + (Math.log(1 / delta) + am1 * Math.log1p(-1 / a) -
	    Math.log(a)) / am1;
}

// ε of ρ-zCDP at δ (0 < δ < 1, ρ ≥ 0).
export function epsFromRho(rho, delta) {
	const lo = -20, hi = 40, g = 0.5 * (Math.sqrt(5) - 1), grid = 600;
	let best = epsAt(lo, rho, delta), bu = lo;

	for (let i = 1; i <= grid; i++) {
		const u = lo + (hi - lo) * i / grid, f = epsAt(u, rho, delta);
		if (f < best) {
			best = f;
			bu = u;
		}
	}
	let a = bu - (hi - lo) / grid, b = bu + (hi - lo) / grid;
	let c = b - g * (b - a), d = a + g * (b - a);
	let fc = epsAt(c, rho, delta), fd = epsAt(d, rho, delta);
	for (let i = 0; i < 200; i++) {
		if (fc < fd) {
			b = d; d = c; fd = fc;
			c = b - g * (b - a);
			fc = epsAt(c, rho, delta);
		} else {
			a = c; c = d; fc = fd;
			d = a + g * (b - a);
			fd = epsAt(d, rho, delta);
		}
	}
	best = Math.min(best, fc, fd);
	return best > 0 ? best : 0;
}

export function epsSimple(rho, delta) {
	return rho + 2 * Math.sqrt(rho * Math.log(1 / delta));
}

// Exact decimal text of a nano-ρ count (as common/rho.c's rho_format).
export function rhoText(nano) {
	const n = BigInt(nano);
	let s = (n / 1000000000n) + '.' +
	    String(n % 1000000000n).padStart(9, '0');
	s = s.replace(/0+$/, '').replace(/\.$/, '');
	return s;
}
