// Email for notifications (shared/notifications/channels/email.py): an Email Communication
// Service with an Azure-managed domain (DoNotReply@<guid>.azurecomm.net; a custom domain needs
// its DNS records verified first), linked to a Communication Services resource the app sends
// through with its managed identity (no key or connection string in the app's settings).
// Data at rest stays in Korea.
param namePrefix string
param tags object = {}
param dataLocation string = 'Korea'

@description('Principal id of the Function App\'s identity: it sends as this resource.')
param appPrincipalId string

// Built-in Contributor, scoped to this one Communication Services resource: accepted by the
// email data plane for Microsoft Entra callers (a custom role with the resource's read and write
// actions could narrow it further).
var contributorRoleId = 'b24988ac-6180-42a0-ab88-20f7382dd24c'

resource emailService 'Microsoft.Communication/emailServices@2023-04-01' = {
  name: '${namePrefix}-email'
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
  }
}

resource domain 'Microsoft.Communication/emailServices/domains@2023-04-01' = {
  parent: emailService
  name: 'AzureManagedDomain'
  location: 'global'
  tags: tags
  properties: {
    domainManagement: 'AzureManaged'
    userEngagementTracking: 'Disabled'
  }
}

resource communication 'Microsoft.Communication/communicationServices@2023-04-01' = {
  name: '${namePrefix}-acs'
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
    linkedDomains: [
      domain.id
    ]
  }
}

resource appSends 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communication.id, appPrincipalId, contributorRoleId)
  scope: communication
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', contributorRoleId)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ACS_EMAIL_ENDPOINT and ACS_EMAIL_SENDER of the app.
output endpoint string = 'https://${communication.properties.hostName}'
output senderAddress string = 'DoNotReply@${domain.properties.mailFromSenderDomain}'
