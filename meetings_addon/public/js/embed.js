/*
 * Embed a booking page in another website:
 *
 *   <div class="meetings-embed" data-url="https://example.com/meetings/alex-30"></div>
 *   <script src="https://example.com/assets/meetings_addon/js/embed.js" async></script>
 *
 * Each .meetings-embed element gets an iframe of the page (?embed=1). The page posts its
 * height ({type: "meetings:resize", height}) whenever it changes; the iframe takes that
 * height, so the page never scrolls inside the host's page. Optional attributes:
 * data-lang="fr" (the page's language), data-title (the iframe's accessible name).
 */
(function () {
  "use strict";

  var frames = [];

  function embedUrl(url, lang) {
    var target;
    try {
      target = new URL(url, document.baseURI);
    } catch (error) {
      return null;
    }
    if (target.protocol !== "https:" && target.protocol !== "http:") return null;
    target.searchParams.set("embed", "1");
    if (lang) target.searchParams.set("lang", lang);
    return target;
  }

  function mount(container) {
    if (container.getAttribute("data-meetings-ready")) return;
    var target = embedUrl(container.getAttribute("data-url") || "", container.getAttribute("data-lang"));
    if (!target) return;
    container.setAttribute("data-meetings-ready", "1");
    var frame = document.createElement("iframe");
    frame.src = target.href;
    frame.title = container.getAttribute("data-title") || "Book a meeting";
    frame.setAttribute("scrolling", "no");
    frame.style.width = "100%";
    frame.style.minWidth = "300px";
    frame.style.height = "720px";
    frame.style.border = "0";
    frame.style.display = "block";
    frame.style.overflow = "hidden";
    container.appendChild(frame);
    frames.push({ frame: frame, origin: target.origin });
  }

  function mountAll() {
    var found = document.querySelectorAll(".meetings-embed[data-url]");
    for (var i = 0; i < found.length; i++) mount(found[i]);
  }

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || data.type !== "meetings:resize" || typeof data.height !== "number") return;
    for (var i = 0; i < frames.length; i++) {
      var item = frames[i];
      if (item.frame.contentWindow === event.source && item.origin === event.origin) {
        var height = Math.max(200, Math.min(Math.ceil(data.height), 6000));
        item.frame.style.height = height + "px";
      }
    }
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
})();
