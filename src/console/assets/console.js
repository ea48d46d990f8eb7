// Storefront console: progressive enhancement only. Every page works without this file; with it,
// feed uploads show progress and accept a dropped file, the delivery chart is drawn, and the work
// queue refreshes itself from a server-sent event stream when the page names one.
/* global document, window, history, location, XMLHttpRequest, FormData, EventSource, DOMParser, fetch, setTimeout, clearTimeout */
'use strict'

function csrfToken(form) {
  const field = form.querySelector('input[name="_csrf"]')
  return field ? field.value : ''
}

/** Swaps this page's <main> for the one in an HTML answer (the server renders whole pages). */
function showPage(html, url) {
  const doc = new DOMParser().parseFromString(html, 'text/html')
  const next = doc.querySelector('main')
  if (!next) return false
  document.querySelector('main').replaceWith(next)
  document.title = doc.title
  if (url) history.pushState({}, '', url)
  next.focus()
  enhance(next)
  return true
}

function enhanceUpload(form) {
  const input = form.querySelector('input[type="file"]')
  const zone = form.querySelector('.dropzone')
  const progress = form.querySelector('progress')
  const status = form.querySelector('[data-upload-status]')
  if (!input || !zone) return
  for (const type of ['dragenter', 'dragover']) {
    zone.addEventListener(type, (event) => { event.preventDefault(); zone.classList.add('dragging') })
  }
  for (const type of ['dragleave', 'drop']) {
    zone.addEventListener(type, () => zone.classList.remove('dragging'))
  }
  zone.addEventListener('drop', (event) => {
    event.preventDefault()
    if (event.dataTransfer && event.dataTransfer.files.length > 0) {
      input.files = event.dataTransfer.files
      if (status) status.textContent = `Selected ${input.files[0].name}`
    }
  })
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const request = new XMLHttpRequest()
    request.open('POST', form.action)
    request.setRequestHeader('x-csrf-token', csrfToken(form))
    if (progress) {
      progress.hidden = false
      progress.value = 0
      request.upload.addEventListener('progress', (e) => { if (e.lengthComputable) progress.value = Math.round((e.loaded / e.total) * 100) })
    }
    if (status) status.textContent = 'Uploading…'
    request.addEventListener('load', () => {
      if (!showPage(request.responseText, null) && status) status.textContent = `Upload failed (${request.status})`
    })
    request.addEventListener('error', () => { if (status) status.textContent = 'Upload failed: the server could not be reached' })
    request.send(new FormData(form))
  })
}

function drawDeliveryChart(container) {
  if (typeof window.uPlot !== 'function') return
  const data = JSON.parse(container.dataset.chart)
  if (data.days.length === 0) return
  const xs = data.days.map((day) => Date.parse(`${day}T00:00:00Z`) / 1000)
  const goal = data.days.map(() => data.bookedGoal)
  const width = Math.max(300, Math.min(container.clientWidth - 16, 1100))
  container.textContent = ''
  new window.uPlot({
    title: 'Delivered impressions against the booked goal',
    width,
    height: 320,
    // Room on the right for the last day's label.
    padding: [null, 48, null, null],
    scales: { x: { time: true } },
    // Delivery rows are whole UTC days: ticks fall on days (or weeks), labelled as the table's dates.
    axes: [
      { incrs: [86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400], values: (_u, ticks) => ticks.map((tick) => new Date(tick * 1000).toISOString().slice(0, 10)) },
      { size: 80, values: (_u, ticks) => ticks.map((tick) => tick.toLocaleString('en')) },
    ],
    series: [
      { label: 'Day', value: (_u, tick) => (tick === null || tick === undefined ? '--' : new Date(tick * 1000).toISOString().slice(0, 10)) },
      { label: 'Delivered that day', stroke: '#c77700', width: 2, points: { show: true } },
      { label: 'Delivered to date', stroke: '#0b5cad', fill: 'rgba(11,92,173,0.12)', width: 2 },
      { label: 'Booked goal', stroke: '#a4161a', dash: [6, 4], width: 2 },
    ],
  }, [xs, data.impressions, data.cumulative, goal], container)
}

function watchQueue(region) {
  const url = region.dataset.liveEvents
  if (!url || typeof EventSource !== 'function') return
  const events = new EventSource(url)
  let pending = null
  const refresh = () => {
    clearTimeout(pending)
    pending = setTimeout(async () => {
      const answer = await fetch(location.href, { headers: { accept: 'text/html' } })
      const doc = new DOMParser().parseFromString(await answer.text(), 'text/html')
      const fresh = doc.getElementById(region.id)
      if (fresh) region.replaceChildren(...fresh.childNodes)
    }, 150)
  }
  // One event per committed change; resync when changes may have been missed; a reconnect may have missed some too.
  events.addEventListener('work-item', refresh)
  events.addEventListener('resync', refresh)
  events.addEventListener('open', refresh)
}

function enhance(root) {
  root.querySelectorAll('form[data-upload]').forEach(enhanceUpload)
  root.querySelectorAll('[data-chart]').forEach(drawDeliveryChart)
  root.querySelectorAll('[data-live-events]').forEach(watchQueue)
}

document.addEventListener('DOMContentLoaded', () => enhance(document))
