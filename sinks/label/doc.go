// Package label prints carriers' shipping labels in batches: Compose turns the labels of many
// parcels (each a complete HTML document, such as Kdniao's PrintTemplate) into one printable
// HTML document with one label per sheet, in the order given, and PDF renders that document to
// PDF through headless Chromium.
//
// Each label's document is embedded whole in an <iframe srcdoc>, because carriers' templates
// style body, table and td globally and carry their own @page rules: inside a frame those
// rules stay in that label, whatever the carrier writes. The frame is sandboxed without
// allow-same-origin or allow-modals, so a template's scripts (some draw their barcode) still
// run, but cannot reach the batch or the other labels, and a template that calls print() on
// load does not open a dialog per label. The batch itself has no scripts.
//
// Every sheet ends in one monospace line, "shipsync ▸ <waybill> ▸ <carrier> ▸ order <code>
// (i/n)", so that a person at the printer and pdftotext can tell which parcel a sheet belongs to
// and whether the batch is complete. The sheet is exactly the label's size (a thermal printer's
// roll has no margin to spare), so the label is scaled down by the line's 5 mm (to 96.7 % for a
// 150 mm label) rather than cut or overprinted; barcodes keep their proportions.
//
// Each sheet is its own CSS named page (@page p100x150 { size: 100mm 150mm }), so a batch of 130,
// 150 and 180 mm labels prints each on its own size; the unnamed @page, which a browser without
// named pages uses, is the largest label's size. Chromium's --print-to-pdf prints backgrounds; a
// person printing the HTML from a browser's dialog has to tick "Background graphics" for a
// template that draws its barcode with background colours.
//
// The package keeps no state and does not log. Like every package under sinks/, it must not
// import sync/… or sources/…, nor anything else from the module.
package label
