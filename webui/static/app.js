// piccl's review UI: a little plain JavaScript on top of pages that work without it.
"use strict";
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const toast = document.getElementById("toast");
  let toastTimer = null;

  async function api(path, body) {
    const response = await fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
    });
    if (response.status === 401) { location.reload(); throw new Error("login required"); }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.message || data.error || response.statusText);
    return data;
  }

  function showToast(text, onUndo) {
    if (!toast) return;
    toast.querySelector("span").textContent = text;
    const button = toast.querySelector("button");
    button.hidden = !onUndo;
    button.onclick = async () => { toast.hidden = true; if (onUndo) await onUndo(); };
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toast.hidden = true; }, 8000);
  }

  function updateCounts(counts) {
    if (!counts) return;
    document.querySelectorAll(".tabs a[data-reason]").forEach((tab) => {
      const n = counts[tab.dataset.reason];
      if (n === undefined) return;
      tab.querySelector(".count").textContent = n;
      tab.classList.toggle("empty", !n);
    });
  }

  // --- the review grid: Keep / Trash per tile, selection for many, undo -------------------------
  const grid = document.getElementById("grid");
  // Every grid of photos selects: a grid without a bar of its own gets one (GIF, Add to album).
  const selbar = document.getElementById("selbar") || makeSelbar();

  function selected() {
    return [...document.querySelectorAll(".tile .pick input:checked")].map((box) => Number(box.value));
  }
  function refreshSelection() {
    document.querySelectorAll(".tile").forEach((tile) => {
      const box = tile.querySelector(".pick input");
      tile.classList.toggle("selected", !!box && box.checked);
    });
    if (!selbar) return;
    const n = selected().length;
    selbar.hidden = n === 0;
    document.body.classList.toggle("has-selbar", n > 0);
    document.getElementById("selcount").textContent = n;
  }

  async function decide(ids, decision) {
    const tiles = ids.map((id) => grid.querySelector(`.tile[data-id="${id}"]`)).filter(Boolean);
    try {
      const result = await api("/api/decisions", { photo_ids: ids, decision });
      const done = new Set(result.done);
      tiles.forEach((tile) => {
        if (done.has(Number(tile.dataset.id))) { tile.classList.add("leaving"); setTimeout(() => tile.remove(), 160); }
      });
      updateCounts(result.counts);
      refreshSelection();
      const failed = Object.keys(result.failed || {}).length;
      const verb = decision === "trash" ? "Trashed" : "Kept";
      const one = tiles.length === 1 ? tiles[0].querySelector("img")?.alt : null;
      const what = one && result.done.length === 1 ? one : `${result.done.length} photo${result.done.length === 1 ? "" : "s"}`;
      const text = `${verb} ${what}` +
        (failed ? ` (${failed} could not be ${decision === "trash" ? "trashed" : "kept"})` : "");
      showToast(text, result.done.length ? async () => {
        await api("/api/undo", { photo_ids: result.done });
        location.reload();
      } : null);
    } catch (error) {
      showToast(`Could not ${decision}: ${error.message}`, null);
    }
  }

  // An animated GIF and WebP of the selection, saved in the library: the toast says where.
  async function makeGif(ids) {
    if (ids.length < 2) { showToast("Select two or more photos for a GIF.", null); return; }
    showToast(`Making a GIF of ${ids.length} photos…`, null);
    try {
      const result = await api("/api/gif", { photo_ids: ids });
      showToast(result.message, null);
    } catch (error) {
      showToast(`No GIF: ${error.message}`, null);
    }
  }

  if (grid) {
    grid.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-act]");
      if (!button) return;
      const tile = button.closest(".tile");
      decide([Number(tile.dataset.id)], button.dataset.act);
    });
    grid.addEventListener("change", refreshSelection);
  }
  if (selbar) {
    selbar.addEventListener("click", (event) => {
      const action = event.target.closest("button[data-bulk]")?.dataset.bulk;
      if (!action) return;
      if (action === "all" || action === "none") {
        document.querySelectorAll(".tile .pick input").forEach((box) => { box.checked = action === "all"; });
        refreshSelection();
      } else if (action === "gif" && selected().length) {
        makeGif(selected());
      } else if (action === "album" && selected().length) {
        chooseAlbum(selected());
      } else if (action === "remove" && selected().length) {
        takeOut(selected());
      } else if (selected().length) {
        decide(selected(), action);
      }
    });
  }
  document.addEventListener("change", (event) => { if (event.target.closest(".pick")) refreshSelection(); });

  // --- albums: "Add to album" for the selection of any grid, "Remove" in an album's own grid -------
  function makeSelbar() {
    // Photo tiles only (data-id: a photo): the trash's tiles select trash entries for its own form.
    const host = document.querySelector(".grid .tile[data-id] .pick")?.closest(".grid");
    if (!host) return null;
    const bar = document.createElement("div");
    bar.className = "selbar";
    bar.id = "selbar";
    bar.hidden = true;
    bar.innerHTML = '<span><b id="selcount">0</b> selected</span>' +
      '<button type="button" data-bulk="all">All shown</button><button type="button" data-bulk="none">Clear</button>' +
      '<div class="selacts"><button type="button" data-bulk="gif" ' +
      'title="An animated GIF and WebP of the selected photos">GIF</button></div>';
    host.after(bar);
    return bar;
  }
  if (selbar && !selbar.querySelector('[data-bulk="album"]')) {
    const acts = selbar.querySelector(".selacts") || selbar;
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.bulk = "album";
    button.setAttribute("aria-label", "Add to album");
    // Three or four buttons share a phone's row (the review grid's bar): there the short label.
    button.textContent = acts.querySelectorAll("button").length >= 2 ? "+ Album" : "Add to album";
    acts.prepend(button);
  }

  function clearSelection() {
    document.querySelectorAll(".tile .pick input").forEach((box) => { box.checked = false; });
    refreshSelection();
  }

  async function getJson(path) {
    const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.status === 401) { location.reload(); throw new Error("login required"); }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.message || data.error || response.statusText);
    return data;
  }

  // The album chooser: a sheet at the foot of the screen with the albums (the last one filled first) and a
  // field for a new one. Names go in as text, never as markup.
  let sheet = null;
  function albumSheet() {
    if (sheet) return sheet;
    sheet = document.createElement("dialog");
    sheet.className = "sheet";
    sheet.id = "album-sheet";
    sheet.setAttribute("aria-labelledby", "album-sheet-title");
    // The title takes the focus: the first field would open a phone's keyboard over the albums to choose from.
    sheet.innerHTML = '<h2 id="album-sheet-title" tabindex="-1" autofocus></h2><div class="album-choices"></div>' +
      '<form class="namer"><input name="name" placeholder="New album" aria-label="New album name" autocomplete="off" ' +
      'enterkeyhint="done" maxlength="256" required><button type="submit">Create</button></form>' +
      '<p class="error" hidden></p><button type="button" class="cancel">Cancel</button>';
    document.body.append(sheet);
    sheet.querySelector(".cancel").addEventListener("click", () => sheet.close());
    sheet.addEventListener("click", (event) => { if (event.target === sheet) sheet.close(); });  // the backdrop
    return sheet;
  }
  function sheetBusy(busy) {
    sheet.classList.toggle("busy", busy);
    sheet.querySelectorAll("button, input").forEach((el) => { el.disabled = busy; });
  }

  async function chooseAlbum(ids) {
    const dialog = albumSheet();
    const list = dialog.querySelector(".album-choices");
    const form = dialog.querySelector("form");
    const problem = dialog.querySelector(".error");
    dialog.querySelector("h2").textContent = `Add ${ids.length} photo${ids.length === 1 ? "" : "s"} to…`;
    list.textContent = "Loading…";
    problem.hidden = true;
    form.reset();
    sheetBusy(false);
    dialog.showModal();
    form.onsubmit = (event) => {
      event.preventDefault();
      addTo("/api/albums", { name: form.elements.name.value, photo_ids: ids });
    };
    try {
      const { albums } = await getJson("/api/albums");
      list.textContent = albums.length ? "" : "No albums yet: name the first one.";
      albums.forEach((album) => {
        const button = document.createElement("button");
        button.type = "button";
        button.dataset.albumId = album.id;
        const name = document.createElement("span");
        name.textContent = album.name;
        const count = document.createElement("span");
        count.className = "count";
        count.textContent = album.count;
        button.append(name, count);
        button.addEventListener("click", () => addTo(`/api/albums/${album.id}/add`, { photo_ids: ids }));
        list.append(button);
      });
    } catch (error) {
      list.textContent = `Could not load the albums: ${error.message}`;
    }
  }

  async function addTo(path, body) {
    if (sheet.classList.contains("busy")) return;  // the first tap is on its way
    sheetBusy(true);
    try {
      const result = await api(path, body);
      sheet.close();
      clearSelection();
      const { album, added } = result;
      showToast(result.message, added.length ? async () => {
        await api(`/api/albums/${album.id}/remove`, { photo_ids: added });
        showToast(`Took ${added.length === 1 ? "it" : "them"} out of ${album.name} again.`, null);
      } : null);
    } catch (error) {
      const problem = sheet.querySelector(".error");
      problem.textContent = `Not added: ${error.message}`;
      problem.hidden = false;
    } finally {
      sheetBusy(false);
    }
  }

  // In an album's grid (or Favourites), "Remove" takes the selection out; their files stay where they are.
  async function takeOut(ids) {
    const albumId = selbar.dataset.albumId;
    const remove = albumId ? [`/api/albums/${albumId}/remove`, { photo_ids: ids }]
      : ["/api/favorites", { photo_ids: ids, favorite: false }];
    const putBack = (done) => (albumId ? api(`/api/albums/${albumId}/add`, { photo_ids: done })
      : api("/api/favorites", { photo_ids: done, favorite: true }));
    try {
      const result = await api(...remove);
      const done = albumId ? result.removed : result.changed;
      const gone = new Set(done);
      document.querySelectorAll(".grid .tile").forEach((tile) => {
        if (gone.has(Number(tile.dataset.id))) { tile.classList.add("leaving"); setTimeout(() => tile.remove(), 160); }
      });
      const count = document.getElementById("album-count");
      if (count) count.textContent = Math.max(0, Number(count.textContent) - done.length);
      clearSelection();
      showToast(result.message, done.length ? async () => { await putBack(done); location.reload(); } : null);
    } catch (error) {
      showToast(`Not done: ${error.message}`, null);
    }
  }

  // --- plain forms marked data-once: no second submit while the first is on its way (a double tap) -------
  document.querySelectorAll("form[data-once]").forEach((form) => {
    form.addEventListener("submit", () => {
      // After the submit: a button disabled now would leave its name and value out of the form's data.
      setTimeout(() => form.querySelectorAll("button").forEach((button) => { button.disabled = true; }), 0);
    });
  });
  window.addEventListener("pageshow", (event) => {  // back to a page kept by the browser: usable again
    if (event.persisted) document.querySelectorAll("form[data-once] button").forEach((b) => { b.disabled = false; });
  });

  // --- infinite scroll: the next page of tiles arrives as HTML ----------------------------------
  const loader = new IntersectionObserver((entries) => {
    entries.forEach(async (entry) => {
      if (!entry.isIntersecting) return;
      const more = entry.target;
      loader.unobserve(more);
      const response = await fetch(more.dataset.more, { credentials: "same-origin" });
      if (!response.ok) { more.textContent = "Could not load more."; return; }
      const template = document.createElement("template");
      template.innerHTML = await response.text();
      more.replaceWith(template.content);
      watchMore();
    });
  }, { rootMargin: "800px" });
  function watchMore() { document.querySelectorAll(".more[data-more]").forEach((el) => loader.observe(el)); }
  watchMore();

  // --- filters: a choice in a <select data-autosubmit> applies at once (the form has a button without JS)
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });

  // --- People: face boxes over the photo (no inline styles under the CSP), selected faces counted -----
  document.querySelectorAll(".facebox[data-box]").forEach((box) => {
    const [left, top, width, height] = box.dataset.box.split(" ").map(Number);
    Object.assign(box.style, { left: `${left}%`, top: `${top}%`, width: `${width}%`, height: `${height}%` });
    box.classList.add("placed");
  });
  document.querySelectorAll(".faces-form").forEach((form) => {
    const count = form.querySelector(".selcount b");
    if (count) count.parentElement.hidden = false;  // without this script the count would not follow the ticks
    const update = () => { if (count) count.textContent = form.querySelectorAll('input[name="face_id"]:checked').length; };
    form.addEventListener("change", update);
    update();  // a reload keeps the boxes ticked
  });

  // --- the photo page: keys and swipes ------------------------------------------------------------
  function press(selector) { const el = document.querySelector(selector); if (el) el.click(); return !!el; }
  document.addEventListener("keydown", (event) => {
    const undoKey = event.key === "z" && (event.ctrlKey || event.metaKey);
    // In a group's strip the arrows scroll the photos, not to the next group.
    if (event.target.closest("input, textarea, select, .strip") || event.altKey) return;
    if ((event.metaKey || event.ctrlKey) && !undoKey) return;
    const key = event.key;
    let handled = false;
    if (key === "ArrowRight") handled = press("#next");
    else if (key === "ArrowLeft") handled = press("#prev");
    else if (key === "k" || key === "K") handled = press('#decide button[value="keep"]');
    else if (key === "t" || key === "T" || key === "Delete") handled = press('#decide button[value="trash"]');
    else if (key === "u" || key === "U" || undoKey) handled = press('.flash.undo button, #toast:not([hidden]) button');
    if (handled) event.preventDefault();
  });
  // --- a group's page: no second tap while a form is sent (a GIF takes seconds) ------------------------
  document.querySelectorAll(".group form").forEach((form) => {
    form.addEventListener("submit", () => {
      // After the submit: a button disabled now would leave its name and value out of the form's data.
      setTimeout(() => {
        document.querySelectorAll(".group button").forEach((button) => { button.disabled = true; });
        document.getElementById("group")?.classList.add("busy");
      }, 0);
    });
  });
  const viewer = document.getElementById("viewer");
  if (viewer) {
    let x0 = null, y0 = null;
    viewer.addEventListener("touchstart", (e) => { x0 = e.touches[0].clientX; y0 = e.touches[0].clientY; }, { passive: true });
    viewer.addEventListener("touchend", (e) => {
      if (x0 === null) return;
      const dx = e.changedTouches[0].clientX - x0, dy = e.changedTouches[0].clientY - y0;
      x0 = null;
      if (Math.abs(dx) > 60 && Math.abs(dx) > 2 * Math.abs(dy)) press(dx < 0 ? "#next" : "#prev");
    }, { passive: true });
  }
})();
