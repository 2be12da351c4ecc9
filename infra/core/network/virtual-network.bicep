// The virtual network of an environment on private networking (networkAccess 'private'):
//   app                the Function App's outbound traffic (Flex Consumption VNet integration:
//                      the subnet is delegated to Microsoft.App/environments);
//   private-endpoints  the private endpoints of PostgreSQL, Key Vault and Storage.
param name string
param location string = resourceGroup().location
param tags object = {}

param addressPrefix string = '10.40.0.0/16'
param appSubnetPrefix string = '10.40.0.0/24'
param privateEndpointSubnetPrefix string = '10.40.1.0/24'

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

output id string = vnet.id
output appSubnetId string = vnet.properties.subnets[0].id
output privateEndpointSubnetId string = vnet.properties.subnets[1].id
