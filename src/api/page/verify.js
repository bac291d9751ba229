/*
 * verify.js - the verification page (GET /verify): the files a person
 * chooses or drops go, base64 in JSON, to POST /public/verify on this
 * origin, and the report comes back as words, in Chinese and English: the
 * outcome, then for each seal its picture, name, esID, issuer and kind, who
 * signed and when, the timestamp, the page and the box it stands in (drawn
 * on an outline of the page at scale), its status then and now, and every
 * check.  Plain JavaScript, no framework, no build step, nothing from
 * another origin; every text from the report goes in as textContent.
 */
(function () {
  "use strict";

  var INPUTS = { ofd: "ofd-file", signature: "sig-file",
                 document: "doc-file", seal: "seal-file" };
  var NEEDS = { ofd: ["ofd"], signature: ["signature", "document"],
                seal: ["seal"] };
  var chosen = { ofd: null, signature: null, document: null, seal: null };

  /* Words: [Chinese, English]. */
  var INDICATION = {
    TOTAL_PASSED: ["有效", "Valid"],
    TOTAL_FAILED: ["无效", "Not valid"],
    INDETERMINATE: ["无法确定", "Cannot be confirmed"]
  };
  var SUB = {
    HASH_FAILURE: ["文档在签章后被修改，或不是被签名的那份文档",
      "The document was changed after it was sealed, or it is not the document that was signed"],
    SIG_CRYPTO_FAILURE: ["签名值不正确：文件被篡改，或签名是伪造的",
      "A signature value is wrong: the file was altered, or the signature is forged"],
    REVOKED: ["印章已被吊销、挂失或暂停使用（签章时或现在）",
      "The seal was revoked, reported lost or suspended (when signed, or now for a seal alone)"],
    REVOKED_NO_POE: ["印章现已被吊销，且没有证据证明签章早于吊销",
      "The seal has been revoked since, and nothing proves the signature was made before that"],
    NO_CERTIFICATE_CHAIN_FOUND: ["证书不能追溯到本服务器信任的根证书",
      "The certificates do not lead to a root this server trusts"],
    CHAIN_CONSTRAINTS_FAILURE: ["证书链不符合要求",
      "The certificate chain does not meet the rules"],
    OUT_OF_BOUNDS_NO_POE: ["签章时证书不在有效期内",
      "A certificate was outside its validity period at the signing time"],
    NOT_YET_VALID: ["签章时证书或印章尚未生效",
      "A certificate or the seal was not yet valid at the signing time"],
    EXPIRED: ["印章已过期", "The seal has expired"],
    TRY_LATER: ["目前无法确认印章状态，请稍后再试",
      "The seal's status cannot be confirmed now; try again later"],
    SIG_CONSTRAINTS_FAILURE: ["签章时印章不可用，或与本服务器登记的印章不符",
      "The seal was not usable at the signing time, or it is not the seal registered here"],
    FORMAT_FAILURE: ["文件格式不正确，无法读取", "The file is malformed and cannot be read"],
    NO_SIGNATURE_FOUND: ["文件中没有签章", "The file holds no signature"]
  };
  var CHECK = {
    structure: ["文件结构", "File structure"],
    references: ["OFD 文件内容未被修改", "OFD contents unchanged (references)"],
    seal_file: ["OFD 中的印章文件", "Seal file in the OFD"],
    signature: ["签名值", "Signature value"],
    seal_signature: ["印章的制章签名", "Seal maker's signature"],
    data_hash: ["文档摘要", "Document hash"],
    signer_in_seal: ["签章人证书属于该印章", "Signer's certificate belongs to the seal"],
    seal_validity: ["印章有效期", "Seal validity period"],
    signer_certificate_validity: ["签章人证书有效期", "Signer certificate validity"],
    maker_certificate_validity: ["制章者证书有效期", "Maker certificate validity"],
    certificate_chain: ["证书链", "Certificate chain"],
    certificate_status: ["证书吊销状态", "Certificate revocation status"],
    timestamp: ["时间戳", "Timestamp"],
    seal_status: ["印章状态", "Seal status"]
  };
  var STATUS = {
    passed: ["通过", "passed"],
    failed: ["未通过", "failed"],
    indeterminate: ["无法确定", "indeterminate"],
    not_checked: ["未检查", "not checked"]
  };
  var STATE = {
    active: ["有效", "active"], revoked: ["已吊销", "revoked"],
    suspended: ["已暂停", "suspended"], lost: ["已挂失", "reported lost"],
    expired: ["已过期", "expired"], made: ["已制作，待确认", "made, not yet confirmed"]
  };
  var TIME_SOURCE = {
    timestamp: ["可信时间戳", "a trusted timestamp"],
    tbs_time_info: ["签名中声明的时间", "the time the signature claims"],
    current_time: ["当前时间", "the current time"],
    seal_create_date: ["印章制作时间", "the seal's making date"]
  };
  /* The files a kind needs, as the page names them. */
  var CHECK_FILE = {
    ofd: ["OFD 文件", "the OFD file"], signature: ["签名文件", "the signature file"],
    document: ["被签名的文档", "the signed document"], seal: ["印章文件", "the seal file"]
  };

  var PICTURE_MIME = { png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg",
                       gif: "image/gif", bmp: "image/bmp" };

  function $(id) { return document.getElementById(id); }

  /* An element: tag, attributes (class, data-*, ...), children (nodes or
   * strings, as text). */
  function el(tag, attrs) {
    var e = document.createElement(tag), i, c;
    if (attrs)
      Object.keys(attrs).forEach(function (k) {
        if (attrs[k] !== null && attrs[k] !== undefined)
          e.setAttribute(k, attrs[k]);
      });
    for (i = 2; i < arguments.length; i++) {
      c = arguments[i];
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return e;
  }

  /* Both languages of words [zh, en] (or a fallback text). */
  function bi(words, fallback) {
    var f = document.createDocumentFragment();
    if (!words) { f.appendChild(document.createTextNode(fallback || "")); return f; }
    f.appendChild(el("span", { lang: "zh-CN" }, words[0]));
    f.appendChild(document.createTextNode(" · "));
    f.appendChild(el("span", { lang: "en" }, words[1]));
    return f;
  }

  function kind() {
    return document.querySelector("input[name=kind]:checked").value;
  }

  /* Show the file inputs of kind k. */
  function setKind(k) {
    document.querySelector("input[name=kind][value=" + k + "]").checked = true;
    Array.prototype.forEach.call(document.querySelectorAll(".file"),
      function (p) { p.hidden = p.getAttribute("data-kind") !== k; });
  }

  /* Put file f in slot (and in its input, where the browser allows it). */
  function choose(slot, f) {
    chosen[slot] = f;
    try {
      var dt = new DataTransfer();
      dt.items.add(f);
      $(INPUTS[slot]).files = dt.files;
    } catch (ignore) { /* the slot is what counts */ }
  }

  function head(f) {
    return f.slice(0, 4).arrayBuffer().then(function (b) {
      return { file: f, b: new Uint8Array(b), name: f.name.toLowerCase() };
    });
  }

  function isZip(h) { return h.b[0] === 0x50 && h.b[1] === 0x4b; }
  function isDer(h) { return h.b[0] === 0x30 && !/\.(xml|txt|pdf|ofd)$/.test(h.name); }

  /* Dropped files: an OFD (a zip), a seal (.esl), or a signature (DER)
   * and its document; then verify when nothing is missing. */
  function place(files) {
    Promise.all(Array.prototype.map.call(files, head)).then(function (hs) {
      var sig, doc;
      if (hs.length === 1) {
        var h = hs[0];
        if (/\.ofd$/.test(h.name) || isZip(h)) { setKind("ofd"); choose("ofd", h.file); }
        else if (/\.esl$/.test(h.name) || (kind() === "seal" && isDer(h))) {
          setKind("seal"); choose("seal", h.file);
        } else {
          setKind("signature");
          choose(isDer(h) && !chosen.signature ? "signature" : "document", h.file);
        }
      } else {
        sig = hs.filter(isDer)[0] || hs[0];
        doc = hs.filter(function (x) { return x !== sig; })[0];
        setKind("signature");
        choose("signature", sig.file);
        choose("document", doc.file);
      }
      if (missing().length === 0) verify();
    });
  }

  function missing() {
    return NEEDS[kind()].filter(function (s) { return !chosen[s]; });
  }

  function b64(buf) {
    var bytes = new Uint8Array(buf), s = "", i;
    for (i = 0; i < bytes.length; i += 0x8000)
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }

  function read(f) { return f.arrayBuffer().then(b64); }

  function showError(words, detail) {
    var p = $("error");
    p.textContent = "";
    p.appendChild(bi(words));
    if (detail) p.appendChild(el("span", { class: "why" }, " (" + detail + ")"));
    p.hidden = false;
  }

  function busy(on) {
    $("busy").hidden = !on;
    $("go").disabled = on;
  }

  /* Send the chosen files to POST /public/verify and show the report. */
  function verify() {
    var k = kind(), need = missing(), names = NEEDS[k];
    $("error").hidden = true;
    if (need.length) {
      showError(["请先选择文件：" + need.map(function (s) { return CHECK_FILE[s][0]; }).join("、"),
                 "Choose the file first: " + need.map(function (s) { return CHECK_FILE[s][1]; }).join(", ")]);
      return;
    }
    busy(true);
    $("result").hidden = true;
    Promise.all(names.map(function (s) { return read(chosen[s]); }))
      .then(function (data) {
        var body = { pictures: true };
        names.forEach(function (s, i) { body[s] = data[i]; });
        return fetch("/public/verify", {
          method: "POST", credentials: "omit",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body)
        });
      })
      .then(function (r) {
        return r.json().catch(function () { return null; }).then(function (j) {
          if (!r.ok) throw { status: r.status, body: j, retry: r.headers.get("Retry-After") };
          render(j && j.data !== undefined ? j.data : j);
        });
      })
      .catch(function (x) {
        var msg = x && x.body && x.body.error ? x.body.error.message + " [" + x.body.error.code + "]" :
                  x && x.message ? x.message : String(x);
        if (x && x.status === 404)
          showError(["本服务器未开放公开验证", "Public verification is switched off on this server"], msg);
        else if (x && (x.status === 429 || x.status === 503))
          showError(["服务器繁忙，请在 " + (x.retry || "几") + " 秒后重试",
                     "The server is busy; try again in " + (x.retry || "a few") + " s"], msg);
        else if (x && x.status)
          showError(["服务器无法验证这些文件", "The server could not verify these files"], msg);
        else
          showError(["无法连接服务器", "The server cannot be reached"], msg);
      })
      .then(function () { busy(false); });
  }

  /* ---- the report -------------------------------------------------- */

  function cn(dn) {
    var m = /(?:^|,)\s*CN=([^,]*)/.exec(dn || "");
    return m ? m[1] : dn || "";
  }

  function fact(dl, words, value, cls) {
    if (value === null || value === undefined || value === "") return;
    dl.appendChild(el("dt", null, bi(words)));
    dl.appendChild(el("dd", { class: cls || null },
                      typeof value === "string" ? document.createTextNode(value) : value));
  }

  function words(map, key) {
    var w = map[key];
    return w ? bi(w) : document.createTextNode(key || "");
  }

  function banner(ind, sub, extra) {
    var b = el("div", { class: "banner " + (ind || "INDETERMINATE"), id: "outcome",
                        "data-indication": ind || "", "data-sub-indication": sub || "" },
               el("p", { class: "big" }, words(INDICATION, ind)));
    if (sub) b.appendChild(el("p", { class: "sub" }, SUB[sub] ? bi(SUB[sub]) : sub));
    if (extra) b.appendChild(extra);
    return b;
  }

  /* Every check of checks as a list item; scope: "package" (the OFD's
   * own checks) or "seal" (the seal's and its signature's). */
  function checksList(checks, scope) {
    var ul = el("ul", { class: "checks", "data-scope": scope });
    Object.keys(checks || {}).forEach(function (name) {
      var c = checks[name] || {}, st = c.status || "";
      var li = el("li", { class: st, "data-check": name, "data-status": st },
                  el("span", { class: "name" }, words(CHECK, name)), "：",
                  el("span", { class: "state" }, words(STATUS, st)));
      if (c.reason) li.appendChild(el("span", { class: "why", lang: "en" }, c.reason));
      ul.appendChild(li);
    });
    return ul;
  }

  function picture(p) {
    var mime = p && p.type ? PICTURE_MIME[String(p.type).toLowerCase()] : null;
    if (mime && p.data_base64)
      return el("img", { class: "picture", src: "data:" + mime + ";base64," + p.data_base64,
                         alt: "印章图像 · seal picture" });
    return el("div", { class: "nopic" },
              bi(p && p.type ? ["印章图像为 " + p.type + " 格式，此处不显示",
                                "The picture is in " + p.type + " format, not shown here"]
                             : ["没有印章图像", "No seal picture"]));
  }

  var SVGNS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }

  function mm(v) { return Math.round(v * 10) / 10; }

  /* The page outline with the stamp's box at scale (mm as SVG units). */
  function outline(st) {
    var wrap = document.createDocumentFragment(), page = st.page_index, size = st.page_size_mm,
        box = st.boundary_mm, label, s;
    var n = page === null || page === undefined ? "?" : String(page + 1);
    label = "第 " + n + " 页" + (box ? "，位置 x " + mm(box[0]) + "、y " + mm(box[1]) +
            " 毫米，" + mm(box[2]) + " × " + mm(box[3]) + " 毫米" : "") +
            " · page " + n + (box ? ", at x " + mm(box[0]) + " mm, y " + mm(box[1]) +
            " mm, " + mm(box[2]) + " × " + mm(box[3]) + " mm" : "") +
            (size ? " (页面 page " + mm(size[0]) + " × " + mm(size[1]) + " mm)" : "");
    wrap.appendChild(el("span", { class: "where", "data-page": n }, label));
    if (size && box) {
      s = svg("svg", { class: "outline", viewBox: "0 0 " + size[0] + " " + size[1],
                       width: String(Math.round(160 * Math.min(1, size[0] / size[1]))),
                       height: String(Math.round(160 * Math.min(1, size[1] / size[0]))),
                       role: "img", "aria-label": label });
      s.appendChild(svg("rect", { class: "paper", x: 0, y: 0, width: size[0], height: size[1] }));
      s.appendChild(svg("rect", { class: "box", x: box[0], y: box[1], width: box[2], height: box[3] }));
      wrap.appendChild(s);
    }
    return wrap;
  }

  /* The outcome of one seal in plain words, both languages: what holds
   * when it is valid, else which checks failed or could not be decided. */
  function plainWords(ind, lists) {
    var failed = [], open = [];
    lists.forEach(function (checks) {
      Object.keys(checks || {}).forEach(function (n) {
        var st = (checks[n] || {}).status, w = CHECK[n] || [n, n];
        if (st === "failed") failed.push(w);
        else if (st === "indeterminate") open.push(w);
      });
    });
    function names(ws, i, sep) { return ws.map(function (w) { return w[i]; }).join(sep); }
    if (ind === "TOTAL_PASSED")
      return bi(["此签章有效：文件自盖章后未被修改，签名和印章均验证通过，签章时印章处于有效状态。",
                 "This seal is valid: the file has not changed since it was sealed, the signature " +
                 "and the seal check out, and the seal was in force when it was used."]);
    if (failed.length)
      return bi(["此签章无效。未通过的检查：" + names(failed, 0, "、") + "。",
                 "This seal is not valid. Checks that failed: " + names(failed, 1, ", ") + "."]);
    if (open.length)
      return bi(["此签章无法确认。无法确定的检查：" + names(open, 0, "、") + "。",
                 "This seal cannot be confirmed. Checks that could not be decided: " +
                 names(open, 1, ", ") + "."]);
    return bi(["此签章无法确认。", "This seal cannot be confirmed."]);
  }

  function stateWords(s) { return STATE[s] ? STATE[s] : [s, s]; }

  function statusFacts(dl, r) {
    var st = r.seald_status, c = (r.checks || {}).seal_status;
    if (st && st.state_at_signing !== undefined)
      fact(dl, ["签章时状态", "Status when signed"],
           st.state_at_signing ? bi(stateWords(st.state_at_signing)) :
           bi(["签章时印章尚未制作", "the seal was not yet made"]), "then");
    if (st && st.state_now)
      fact(dl, ["现在状态", "Status now"], bi(stateWords(st.state_now)), "now");
    if (st && st.summary)
      fact(dl, ["状态说明", "About the status"], el("span", { lang: "en" }, st.summary));
    else if (c)
      fact(dl, ["印章状态", "Seal status"], el("span", null, words(STATUS, c.status),
           c.reason ? el("span", { class: "why", lang: "en" }, " " + c.reason) : null), "now");
  }

  function timeFacts(dl, r, claimed) {
    if (claimed)
      fact(dl, ["签章时间（文件中）", "Signed at (as the file says)"], claimed, "when");
    if (r.validation_time)
      fact(dl, ["验证所用时间", "Time used for the checks"],
           el("span", null, r.validation_time + " — ",
              words(TIME_SOURCE, r.validation_time_source)), claimed ? null : "when");
    var t = (r.checks || {}).timestamp;
    if (r.timestamp && typeof r.timestamp === "object" && (r.timestamp.gen_time || r.timestamp.time))
      fact(dl, ["时间戳", "Timestamp"], String(r.timestamp.gen_time || r.timestamp.time), "timestamp");
    else if (t)
      fact(dl, ["时间戳", "Timestamp"], el("span", null, words(STATUS, t.status),
           t.reason ? el("span", { class: "why", lang: "en" }, " " + t.reason) : null), "timestamp");
  }

  /* One seal: ses is the SES report (signature or seal), ofdSig the OFD
   * signature entry around it (or null). */
  function sealCard(i, ses, ofdSig) {
    var r = ses || {}, seal = r.seal || {}, ind = (ofdSig || r).indication,
        sub = (ofdSig || r).sub_indication, dl = el("dl", { class: "facts" });
    var pic = ofdSig && ofdSig.picture ? ofdSig.picture : seal.picture;
    var card = el("section", { class: "seal", "data-indication": ind || "",
                               "data-sub-indication": sub || "", "aria-labelledby": "seal-h-" + i });
    card.appendChild(el("h2", { id: "seal-h-" + i }, bi(["印章 " + (i + 1), "Seal " + (i + 1)])));
    card.appendChild(el("div", { class: "seal-head" }, picture(pic),
      el("div", null,
         el("p", { class: "seal-name" }, seal.name || (ofdSig && ofdSig.signed_value_kind === "sm2_signature"
           ? "（数字签名，无印章）· (a digital signature, no seal)" : "—")),
         el("p", null, el("span", { class: "badge " + (ind || "INDETERMINATE") }, words(INDICATION, ind))),
         sub ? el("p", { class: "sub" }, SUB[sub] ? bi(SUB[sub]) : sub) : null)));
    fact(dl, ["印章编码", "esID"], seal.es_id, "esid");
    if (seal.maker)
      fact(dl, ["制章者", "Issuer (seal maker)"],
           el("span", { title: seal.maker.subject }, cn(seal.maker.subject) +
              (seal.maker.issuer ? "（CA: " + cn(seal.maker.issuer) + "）" : "")), "issuer");
    if (seal.type !== undefined)
      fact(dl, ["印章类型", "Kind"], "type " + seal.type + (seal.format ? ", " + seal.format +
           (seal.format === "v1" ? " (GM/T 0031-2014)" : seal.format === "v5" ? " (GM/T 0031-2025)"
                                                       : " (GB/T 38540)") : ""), "kind");
    if (seal.valid_start)
      fact(dl, ["印章有效期", "Seal valid"], seal.valid_start + " — " + seal.valid_end);
    if (r.signer)
      fact(dl, ["签章人", "Signed by"], el("span", { title: r.signer.subject }, cn(r.signer.subject)), "signer");
    timeFacts(dl, r, ofdSig ? ofdSig.signature_time : null);
    if (ofdSig && ofdSig.stamps && ofdSig.stamps.length) {
      var where = el("div", { class: "stamps" });
      ofdSig.stamps.forEach(function (st) { where.appendChild(el("div", { class: "stamp" }, outline(st))); });
      fact(dl, ["所在页面与位置", "Page and box"], where, "position");
    } else if (r.kind === "signature") {
      fact(dl, ["所在页面与位置", "Page and box"],
           bi(["独立签名文件，无页面位置", "a detached signature: no page position"]), "position");
    }
    statusFacts(dl, r);
    card.appendChild(el("p", { class: "plain" },
                        plainWords(ind, [ofdSig ? ofdSig.checks : null, ses ? ses.checks : null])));
    card.appendChild(dl);
    if (ofdSig && ofdSig.checks) {
      card.appendChild(el("h3", null, bi(["OFD 文件检查", "Checks of the OFD package"])));
      card.appendChild(checksList(ofdSig.checks, "package"));
    }
    if (ses && ses.checks) {
      card.appendChild(el("h3", null, bi(["签章检查", "Checks of the seal and signature"])));
      card.appendChild(checksList(ses.checks, "seal"));
    }
    if (ofdSig && ofdSig.error)
      card.appendChild(el("p", { class: "why", lang: "en" }, ofdSig.error));
    return card;
  }

  function render(rep) {
    var out = $("result"), n, cards = [];
    out.textContent = "";
    if (!rep || typeof rep !== "object") {
      showError(["服务器的回答无法读取", "The server's answer cannot be read"]);
      return;
    }
    if (rep.kind === "ofd") {
      (rep.signatures || []).forEach(function (s, i) {
        cards.push(sealCard(i, s.ses || s.signed_data || null, s));
      });
      n = cards.length;
      out.appendChild(banner(rep.indication, rep.sub_indication,
        el("p", null, bi(["共 " + n + " 个签章", n + " signature" + (n === 1 ? "" : "s")]))));
      if (rep.error)
        out.appendChild(el("p", { class: "why", lang: "en" }, rep.error.message || ""));
    } else {
      out.appendChild(banner(rep.indication, rep.sub_indication, null));
      cards.push(sealCard(0, rep, null));
    }
    cards.forEach(function (c) { out.appendChild(c); });
    out.setAttribute("data-indication", rep.indication || "");
    out.hidden = false;
    $("outcome").scrollIntoView({ block: "start" });
  }

  /* ---- wiring ------------------------------------------------------ */

  function init() {
    var drop = $("drop");
    Array.prototype.forEach.call(document.querySelectorAll("input[name=kind]"), function (r) {
      r.addEventListener("change", function () { setKind(r.value); });
    });
    Object.keys(INPUTS).forEach(function (slot) {
      $(INPUTS[slot]).addEventListener("change", function (ev) {
        chosen[slot] = ev.target.files && ev.target.files[0] ? ev.target.files[0] : null;
      });
    });
    drop.addEventListener("dragover", function (ev) { ev.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
    drop.addEventListener("drop", function (ev) {
      ev.preventDefault();
      drop.classList.remove("over");
      if (ev.dataTransfer && ev.dataTransfer.files.length) place(ev.dataTransfer.files);
    });
    function pick() {
      var need = missing();
      $(INPUTS[need.length ? need[0] : NEEDS[kind()][0]]).click();
    }
    drop.addEventListener("click", pick);
    drop.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); pick(); }
    });
    $("form").addEventListener("submit", function (ev) { ev.preventDefault(); verify(); });
    setKind(kind());
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
