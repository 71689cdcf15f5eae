/* sevd status page: polls GET /ui/state once a second and updates the page in place. The
 * guest list (one firmware GUEST_STATUS per guest in sevd) is asked for (?guests=1) every
 * GUESTS_EVERY polls, and at once when the ASID pool or the firmware's guest count changed, so
 * an open page costs the firmware little even with a thousand guests.
 * Credentials: a bearer token from the URL fragment (/ui#token=...), which browsers never
 * send to the server nor write into logs or Referer headers; it is kept in this tab's
 * sessionStorage (so a reload works) and removed from the address bar. Without a token the
 * browser's TLS client certificate, if any, decides the role. Data is only ever written as
 * text (textContent), never as HTML: guest names come from clients. */
"use strict";

(function () {
	const POLL_MS = 1000;
	const GUESTS_EVERY = 5;
	const TIMEOUT_MS = 5000;
	const $ = (id) => document.getElementById(id);

	function takeToken() {
		const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
		if (m) {
			const t = decodeURIComponent(m[1]);
			try { sessionStorage.setItem("sevd-token", t); } catch (e) { /* private mode */ }
			history.replaceState(null, "", location.pathname + location.search);
			return t;
		}
		try { return sessionStorage.getItem("sevd-token"); } catch (e) { return null; }
	}
	const token = takeToken();

	/* Set text only when it changed: no layout work for values that stay the same. */
	function setText(el, v) {
		const s = String(v);
		if (el && el.textContent !== s)
			el.textContent = s;
	}

	function duration(s) {
		if (s < 60) return s + " s";
		if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
		if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
		return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
	}

	/* ---- the ASID grid: built once per range, then only changed cells are touched ---- */
	const grids = {
		es: { el: $("grid-es"), first: 0, last: -1, cells: [], state: "", title: [] },
		sev: { el: $("grid-sev"), first: 0, last: -1, cells: [], state: "", title: [] },
	};

	function buildGrid(g, range) {
		const first = range.length ? range[0] : 0, last = range.length ? range[1] : -1;
		if (g.first === first && g.last === last)
			return;
		const frag = document.createDocumentFragment();
		g.cells = [];
		g.title = [];
		g.state = "";
		for (let a = first; a <= last; a++) {
			const d = document.createElement("div");
			d.className = "c f";
			d.id = "asid-" + a;
			d.dataset.asid = a;
			frag.appendChild(d);
			g.cells.push(d);
			g.title.push("");
			g.state += "?";
		}
		g.el.replaceChildren(frag);
		g.first = first;
		g.last = last;
	}

	function holderText(a, st, holders, byAsid) {
		const guest = byAsid.get(a);
		const who = guest ? guest.name + " (handle " + guest.handle + ", " + guest.state + ")"
			: holders[a] || "";
		if (st === "u")
			return "ASID " + a + " · " + (who || "bound");
		if (st === "p")
			return "ASID " + a + " · awaiting WBINVD + DF_FLUSH" + (who ? " · was " + who : "");
		return "ASID " + a + " · free";
	}

	function updateGrid(g, cells, holders, byAsid) {
		if (g.last < g.first)
			return;
		const part = cells.substring(g.first - 1, g.last);
		for (let i = 0; i < g.cells.length; i++) {
			const st = part.charAt(i) || "f";
			const a = g.first + i;
			if (st !== g.state.charAt(i))
				g.cells[i].className = "c " + st;
			/* hover text: only for cells that are not free, or just became free */
			const t = st === "f" && g.state.charAt(i) === "f" ? g.title[i]
				: holderText(a, st, holders, byAsid);
			if (t !== g.title[i]) {
				g.cells[i].title = t;
				g.title[i] = t;
			}
		}
		g.state = part;
	}

	function counts(prefix, c) {
		setText($(prefix + "-free"), c.free);
		setText($(prefix + "-used"), c.used);
		setText($(prefix + "-pending"), c.flush_pending);
		setText($(prefix + "-total"), c.total);
	}

	function renderAsids(s, byAsid) {
		if (!s.asids)
			return;
		const A = s.asids;
		counts("es", A.es);
		counts("sev", A.sev);
		counts("asid", {
			free: A.es.free + A.sev.free, used: A.es.used + A.sev.used,
			flush_pending: A.es.flush_pending + A.sev.flush_pending,
			total: A.es.total + A.sev.total,
		});
		setText($("asid-flushes"), A.flushes);
		setText($("es-range"), A.es_range.length ? A.es_range[0] + "–" + A.es_range[1] : "none");
		setText($("sev-range"), A.sev_range.length ? A.sev_range[0] + "–" + A.sev_range[1] : "none");
		buildGrid(grids.es, A.es_range);
		buildGrid(grids.sev, A.sev_range);
		updateGrid(grids.es, A.cells, A.holders, byAsid);
		updateGrid(grids.sev, A.cells, A.holders, byAsid);
	}

	function renderPlatform(s) {
		const p = s.platform;
		if (p) {
			setText($("pl-state"), p.state);
			setText($("pl-fw"), "API " + p.api_major + "." + p.api_minor + ", build " + p.build);
			setText($("pl-owner"), p.owner === "self" ? "self-owned" : "externally owned");
			setText($("pl-es"), p.es ? "enabled" : "off");
			setText($("pl-guests"), p.guest_count);
			setText($("pl-transport"), p.transport);
		} else if (s.errors.platform) {
			setText($("pl-state"), "unknown: " + s.errors.platform.message);
		}
		if (s.health)
			setText($("pl-health"), s.health.psp_healthy ? "healthy"
				: "unhealthy: " + s.health.reason);
	}

	/* ---- guests: one row per handle, cells updated in place ---- */
	const rows = new Map();
	let guests = []; /* the last list sevd sent */
	const COLS = ["name", "handle", "state", "policy", "asid", "uptime"];

	function guestRow(h) {
		let tr = rows.get(h);
		if (tr)
			return tr;
		tr = document.createElement("tr");
		tr.id = "guest-" + h;
		for (const c of COLS) {
			const td = document.createElement("td");
			td.className = "g-" + c;
			tr.appendChild(td);
		}
		rows.set(h, tr);
		return tr;
	}

	/* Uptime from the daemon's clock, each poll, also between guest lists. */
	function renderUptimes(s) {
		for (const g of guests) {
			const tr = rows.get(g.handle);
			if (tr)
				setText(tr.children[5], duration(Math.max(0, Math.floor(s.time_ms / 1000) - g.created)));
		}
	}

	function renderGuests(s) {
		const tbody = $("guests");
		if (s.guests === undefined) /* not asked for this time */
			return;
		const list = s.guests || [];
		guests = list;
		const seen = new Set();
		list.sort((a, b) => a.handle - b.handle);
		let prev = null;
		for (const g of list) {
			const tr = guestRow(g.handle);
			seen.add(g.handle);
			const td = tr.children;
			setText(td[0], g.name || "(unnamed)");
			setText(td[1], g.handle);
			setText(td[2], g.state);
			td[2].className = "g-state st-" + g.state;
			setText(td[3], g.policy_words + " (" + g.policy + ")");
			setText(td[4], g.asid === null ? "–" : g.asid + (g.es ? " (ES)" : ""));
			const want = prev ? prev.nextSibling : tbody.firstChild;
			if (want !== tr)
				tbody.insertBefore(tr, want);
			prev = tr;
		}
		for (const [h, tr] of rows)
			if (!seen.has(h)) {
				tr.remove();
				rows.delete(h);
			}
		setText($("guest-count"), list.length);
		$("guests-empty").hidden = list.length > 0;
	}

	/* ---- firmware errors: redrawn only when a new one arrived ---- */
	let fwTotal = -1;
	function renderFwErrors(s) {
		const f = s.fw_errors;
		if (!f || f.total === fwTotal)
			return;
		fwTotal = f.total;
		const frag = document.createDocumentFragment();
		for (const e of f.recent) {
			const tr = document.createElement("tr");
			const cells = [new Date(e.time_ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, ""),
				e.command, e.status + (e.transport_error ? " (" + e.transport_error + ")" : "")];
			cells.forEach((v, i) => {
				const td = document.createElement("td");
				td.textContent = v;
				if (i === 2)
					td.className = "fw-status";
				tr.appendChild(td);
			});
			frag.appendChild(tr);
		}
		$("fw-errors").replaceChildren(frag);
		setText($("fw-total"), f.total);
		$("fw-empty").hidden = f.recent.length > 0;
	}

	function renderErrors(s) {
		const keys = Object.keys(s.errors || {});
		const el = $("errors");
		el.hidden = keys.length === 0;
		setText(el, keys.map((k) => k + ": " + (s.errors[k].message || s.errors[k])).join("; "));
	}

	let updates = 0;
	function render(s) {
		const byAsid = new Map();
		renderGuests(s);
		renderUptimes(s);
		for (const g of guests)
			if (g.asid !== null)
				byAsid.set(g.asid, g);
		renderPlatform(s);
		renderAsids(s, byAsid);
		renderFwErrors(s);
		renderErrors(s);
		setText($("updates"), ++updates);
		setText($("conn"), "live · " + new Date(s.time_ms).toISOString().substring(11, 19) + " UTC");
		document.body.dataset.state = "ok";
		$("auth-help").hidden = true;
	}

	function failed(why, needAuth) {
		document.body.dataset.state = "error";
		setText($("conn"), why);
		$("auth-help").hidden = !needAuth;
	}

	/* What the last answer showed of the pool and the firmware's guests: a change there asks
	 * for the guest list at once. */
	let polls = 0, needGuests = true, lastCells = null, lastCount = null;
	function noteChanges(s, asked) {
		const cells = s.asids ? s.asids.cells : lastCells;
		const count = s.platform ? s.platform.guest_count : lastCount;
		const changed = (lastCells !== null && cells !== lastCells) ||
			(lastCount !== null && count !== lastCount);
		lastCells = cells;
		lastCount = count;
		needGuests = !asked && changed;
	}

	async function poll() {
		const ctl = new AbortController();
		const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
		const asked = needGuests || polls % GUESTS_EVERY === 0;
		polls++;
		try {
			const headers = token ? { Authorization: "Bearer " + token } : {};
			const r = await fetch(asked ? "/ui/state?guests=1" : "/ui/state", { headers,
				cache: "no-store", signal: ctl.signal, credentials: "same-origin" });
			if (r.status === 401 || r.status === 403) {
				const body = await r.json().catch(() => ({}));
				failed("not allowed: " + ((body.error && body.error.message) || r.status), true);
			} else if (!r.ok) {
				failed("sevd answered HTTP " + r.status, false);
			} else {
				const s = await r.json();
				render(s);
				noteChanges(s, asked);
			}
		} catch (e) {
			failed("sevd unreachable (" + (e.name === "AbortError" ? "timeout" : e.message) + ")",
				false);
		} finally {
			clearTimeout(timer);
			setTimeout(poll, needGuests ? 0 : POLL_MS);
		}
	}
	poll();
})();
