// The reference side of zapwasm's benchmark: the bench guest's `http_get`
// trigger (tests/guests/bench) as a zapier-platform-core app. One GET of
// {BENCH_BASE_URL}/contacts?limit=10 with the account's X-API-Key, returning
// the page's contacts.
'use strict';

const { version } = require('zapier-platform-core');

const listContacts = async (z, bundle) => {
  const base = process.env.BENCH_BASE_URL.replace(/\/+$/, '');
  const response = await z.request({
    url: `${base}/contacts`,
    params: { limit: 10 },
    headers: { 'X-API-Key': bundle.authData.api_key },
  });
  const contacts = response.data && response.data.contacts;
  if (!Array.isArray(contacts)) {
    throw new z.errors.Error('the answer has no "contacts" array');
  }
  return contacts;
};

module.exports = {
  version: '1.0.0',
  platformVersion: version,
  triggers: {
    http_get: {
      key: 'http_get',
      noun: 'Item',
      display: { label: 'http_get', description: 'Triggers with one page of contacts from the CRM API.' },
      operation: {
        perform: listContacts,
        outputFields: [{ key: 'id', label: 'ID', type: 'integer', primary: true }],
        sample: { id: 1 },
      },
    },
  },
};
